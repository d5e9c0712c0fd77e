/**
 * Fuzzing the agent WebSocket protocol on a real coordinator process: real
 * frames (docs/protocol.md), mutated as JSON and as bytes, binary frames,
 * frames before and after a hello, oversized frames and wrong tokens. The
 * coordinator must stay up with bounded memory, close a connection only for
 * the documented reasons, and no frame from another agent may touch the task
 * a well-behaved agent is running.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { AGENT_PATH } from '../../daemons/shared/protocol.js';
import { ADMIN_TOKEN, AGENT_TOKEN, RawAgent, api, eventually, SPECIALTIES } from '../helpers.js';
import { FUZZ_SEED, FUZZ_TIMEOUT_MS, fuzzRuns, startCoordinatorProcess, type CoordinatorProcess } from './coordinator-process.js';
import { hostileValue, mutated, mutatedBytes, NASTY_STRINGS, type Json } from './mutate.js';

const RSS_BOUND = 96 * 1024 * 1024;
const IDENTITY_CODES = ['already_enrolled', 'identity_mismatch', 'unknown_agent', 'config_mismatch', 'enroll_not_allowed'];
const ERROR_CODES = ['bad_message', 'hello_required', 'already_registered', 'protocol_version', ...IDENTITY_CODES];

/** One task running on a well-behaved agent that heartbeats: what the fuzzer must not disturb. */
async function victim(c: CoordinatorProcess): Promise<{ id: number; agent: RawAgent }> {
  const agent = await RawAgent.connect(c.url);
  await agent.hello('backend', SPECIALTIES.backend!);
  const id = (await api(c.url, '/tasks', { body: { title: 'the victim', labels: ['ccc:backend'] } })).body.task.id as number;
  const assign = await agent.next('task.assign');
  agent.send({ type: 'task.started', taskId: id, attempt: assign.attempt });
  const beat = setInterval(() => agent.send({ type: 'heartbeat' }), 200);
  agent.ws.once('close', () => clearInterval(beat));
  await eventually(async () => (await api(c.url, `/tasks/${id}`)).body.task.state === 'running');
  return { id, agent };
}

/** The frames of docs/protocol.md, about the victim's task where they name one. */
function seeds(taskId: number): Json[] {
  const ref = { taskId, attempt: 1 };
  return [
    { type: 'hello', protocol: 1, agentId: 'fuzz-agent', hostname: 'fuzz', version: '0.1.0', specialties: ['backend', 'api'], capacity: 2, tasks: [ref] },
    { type: 'hello', protocol: 2, agentId: 'fuzz-agent', hostname: 'fuzz', version: '9.0.0', specialties: ['backend'], capacity: 2, tasks: [], newField: true },
    { type: 'heartbeat' },
    { type: 'draining' },
    { type: 'task.started', ...ref },
    { type: 'task.progress', ...ref, text: 'step: reading the issue' },
    { type: 'task.result', ...ref, outcome: 'succeeded', retryable: false, summary: 'done', exitCode: 0, durationMs: 133, branch: 'ccc/1-x', base: 'main', commit: 'a'.repeat(40), costUsd: 0.01, turns: 3, sessionId: 's' },
    { type: 'task.result', ...ref, outcome: 'failed', retryable: true, summary: 'exit code 3', exitCode: 3, durationMs: 1 },
    { type: 'task.released', ...ref, reason: 'agent is draining' },
    { type: 'error', code: 'bad_message', message: 'task.specialty: expected a lowercase specialty' },
  ];
}

type Frame = { text: string } | { bytes: Buffer; binary: boolean };

function frames(taskId: number): fc.Arbitrary<Frame> {
  const seed = fc.constantFrom(...seeds(taskId));
  return fc.oneof(
    { arbitrary: seed.chain((s) => mutated(s)).map((v) => ({ text: JSON.stringify(v) ?? 'undefined' })), weight: 6 },
    { arbitrary: seed.map((s) => ({ text: JSON.stringify(s) })), weight: 2 },
    { arbitrary: seed.chain((s) => mutatedBytes(JSON.stringify(s))).map((bytes) => ({ bytes, binary: false })), weight: 2 },
    { arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => ({ bytes: Buffer.from(b), binary: true })), weight: 1 },
    { arbitrary: hostileValue.map((v) => ({ text: JSON.stringify(v) })), weight: 1 },
  );
}

function open(url: string, headers: Record<string, string> = { authorization: `Bearer ${AGENT_TOKEN}` }): Promise<WebSocket> {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + AGENT_PATH, { headers, maxPayload: 64 * 1024 * 1024 });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

let markers = 0;

/**
 * Sends `sent`, then a marker: a heartbeat with an unknown key unique to this call, which every
 * coordinator answers with a bad_message naming that key. Frames are handled in order, so once the
 * marker's answer is back every answer to `sent` is in; or the socket closed.
 */
async function exchange(ws: WebSocket, sent: Frame[]): Promise<{ replies: Array<Record<string, unknown>>; closed: number | undefined; timedOut: boolean }> {
  const marker = `marker_${++markers}`;
  const replies: Array<Record<string, unknown>> = [];
  let closed: number | undefined;
  let timedOut = false;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => { timedOut = true; resolve(); }, 5000);
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as Record<string, unknown>;
      if (String(m.message ?? '').includes(marker)) { clearTimeout(timer); resolve(); } else replies.push(m);
    });
    ws.once('close', (code) => { closed = code; clearTimeout(timer); resolve(); });
    for (const f of sent) {
      if ('text' in f) ws.send(f.text);
      else ws.send(f.bytes, { binary: f.binary });
    }
    ws.send(JSON.stringify({ type: 'heartbeat', [marker]: 1 }));
  });
  ws.removeAllListeners('message');
  ws.removeAllListeners('close');
  return { replies, closed, timedOut };
}

describe('fuzzing the agent WebSocket protocol (real coordinator process)', () => {
  it('mutated, binary and garbage frames, before and after hello: only documented answers and closes, the running task untouched', async () => {
    const c = await startCoordinatorProcess();
    const { id, agent } = await victim(c);
    const before = (await api(c.url, `/tasks/${id}`)).body.task;
    const input = fc.record({ hello: fc.boolean(), sent: fc.array(frames(id), { minLength: 1, maxLength: 5 }) });
    const closes = new Map<string, number>();
    const errors = new Map<string, number>();
    const rss0 = c.rss();
    let fresh = 0;
    await fc.assert(fc.asyncProperty(input, async ({ hello, sent }) => {
      const ws = await open(c.url);
      try {
        if (hello) {
          // Each run's own id: the join token enrolls an id once.
          const welcome = await exchange(ws, [{ text: JSON.stringify({ ...(seeds(id)[0] as object), agentId: `fuzz-${fresh++}`, tasks: [] }) }]);
          expect(welcome.replies.some((r) => r.type === 'welcome')).toBe(true);
        }
        const { replies, closed, timedOut } = await exchange(ws, sent);
        expect(timedOut, 'the coordinator stopped answering').toBe(false);
        for (const r of replies.filter((x) => x.type === 'error')) {
          errors.set(String(r.code), (errors.get(String(r.code)) ?? 0) + 1);
          expect(ERROR_CODES, `error ${JSON.stringify(r)}`).toContain(r.code);
        }
        if (closed !== undefined) {
          closes.set(String(closed), (closes.get(String(closed)) ?? 0) + 1);
          const invalidUtf8 = sent.some((f) => 'bytes' in f && !f.binary && !Buffer.from(f.bytes.toString('utf8')).equals(f.bytes));
          const otherProtocol = !hello && replies.some((r) => r.code === 'protocol_version');
          const refusedHello = !hello && replies.some((r) => IDENTITY_CODES.includes(String(r.code)));
          expect(closed === 4002 ? otherProtocol : closed === 4003 ? refusedHello : closed === 1007 ? invalidUtf8 : false, `closed with ${closed}`).toBe(true);
        }
      } finally {
        ws.terminate();
      }
      const t = (await api(c.url, `/tasks/${id}`)).body.task;
      expect({ state: t.state, attempt: t.attempt, agentId: t.agentId, result: t.result }).toEqual({ state: 'running', attempt: 1, agentId: 'backend', result: undefined });
      expect(t.events.filter((e: { kind: string }) => e.kind !== 'stale-ignored')).toEqual(before.events);
    }), { seed: FUZZ_SEED, numRuns: fuzzRuns(200) });
    const grew = c.rss() - rss0;
    expect(c.alive()).toBe(true);
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
    expect((await api(c.url, '/tasks')).body.tasks).toHaveLength(1);
    expect(agent.ws.readyState).toBe(WebSocket.OPEN);
    expect(grew, `RSS grew by ${(grew / 1e6).toFixed(1)} MB`).toBeLessThan(RSS_BOUND);
    await new Promise((r) => setTimeout(r, 200));
    for (const secret of c.secrets) expect(c.log().includes(secret)).toBe(false);
    console.log(`protocol fuzz: errors ${[...errors].map(([k, n]) => `${n}× ${k}`).join(', ')}; closes ${[...closes].map(([k, n]) => `${n}× ${k}`).join(', ') || 'none'}; RSS ${(grew / 1e6).toFixed(1)} MB growth, ${(c.rss() / 1e6).toFixed(0)} MB now`);
  }, FUZZ_TIMEOUT_MS);

  it('closes with 1009 on a frame over 1 MiB, before and after hello, and serves everyone else', async () => {
    const c = await startCoordinatorProcess();
    const { agent } = await victim(c);
    for (const hello of [false, true]) {
      const ws = await open(c.url);
      if (hello) {
        ws.send(JSON.stringify({ type: 'hello', protocol: 1, agentId: 'big-sender', hostname: 'h', version: 'v', specialties: ['qa'], capacity: 1, tasks: [] }));
        await new Promise((r) => ws.once('message', r));
      }
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      ws.send(JSON.stringify({ type: 'task.progress', taskId: 1, attempt: 1, text: 'x'.repeat(1024 * 1024) }));
      expect(await closed).toBe(1009);
    }
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
    expect(agent.ws.readyState).toBe(WebSocket.OPEN);
  }, FUZZ_TIMEOUT_MS);

  it('refuses every Authorization header but the exact token, at the upgrade and on the API', async () => {
    const c = await startCoordinatorProcess();
    const status = (headers: Record<string, string>) => new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(c.url.replace(/^http/, 'ws') + AGENT_PATH, { headers });
      ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
      ws.on('open', () => { resolve(101); ws.terminate(); });
      ws.on('error', (err) => { if (!String(err.message).includes('Unexpected server response')) reject(err); });
    });
    const near = (t: string) => fc.constantFrom(t.slice(1), `${t}x`, t.toUpperCase(), `${t.slice(0, -1)}${t.at(-1) === 'a' ? 'b' : 'a'}`, ` ${t}`, `${t}\t`, `"${t}"`);
    const header = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.constantFrom(...NASTY_STRINGS.filter((s) => s.length < 200)),
      near(AGENT_TOKEN).map((t) => `Bearer ${t}`),
      near(ADMIN_TOKEN).map((t) => `Bearer ${t}`),
      fc.constantFrom(`Basic ${Buffer.from(`x:${AGENT_TOKEN}`).toString('base64')}`, `Token ${AGENT_TOKEN}`, `Bearer${AGENT_TOKEN}`, `Bearer ${AGENT_TOKEN} ${AGENT_TOKEN}`, AGENT_TOKEN, `Bearer ${ADMIN_TOKEN}`),
    ).filter((h) => /^[\x20-\x7e\t]*$/.test(h) && h.trim() !== '');
    // docs/api.md and protocol.md: "Bearer" in any case, then the token exactly.
    const exact = (h: string, token: string) => new RegExp(`^Bearer\\s+${token}\\s*$`).test(h.replace(/^bearer/i, 'Bearer'));
    await fc.assert(fc.asyncProperty(header, async (h) => {
      expect(await status({ authorization: h })).toBe(exact(h, AGENT_TOKEN) ? 101 : 401);
      const r = await fetch(`${c.url}/api/v1/tasks`, { headers: { authorization: h } });
      expect(r.status).toBe(exact(h, ADMIN_TOKEN) ? 200 : 401);
    }), { seed: FUZZ_SEED, numRuns: fuzzRuns(150) });
    expect(await status({ authorization: `bearer   ${AGENT_TOKEN}  ` })).toBe(101);
    await new Promise((r) => setTimeout(r, 200));
    expect(c.log().includes(AGENT_TOKEN) || c.log().includes(ADMIN_TOKEN)).toBe(false);
  }, FUZZ_TIMEOUT_MS);
});

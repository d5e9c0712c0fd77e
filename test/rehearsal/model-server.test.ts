/** The rehearsal model over raw HTTP on 127.0.0.1: SSE order and JSON, plain messages, errors, count_tokens, hang and close; its env knobs. */
import { describe, expect, it } from 'vitest';
import { rehearsalKnobsFromEnv } from '../../daemons/cli/rehearsal-model.js';
import { startModelServer, type ModelServerOptions } from '../../daemons/rehearsal/model-server.js';
import type { Fault } from '../../daemons/rehearsal/prompt.js';
import { eventually, memoryLogger, onCleanup } from '../helpers.js';

const KEY = 'sk-rehearsal-key-that-must-not-be-logged';
const CWD = '/tmp/ccc-rehearsal-repo';

async function server(opts: Partial<ModelServerOptions> = {}) {
  const { log, lines } = memoryLogger([]);
  const s = await startModelServer({ host: '127.0.0.1', port: 0, log, ...opts });
  onCleanup(() => s.close());
  return Object.assign(s, { lines });
}

function body(opts: { stream?: boolean; fault?: Fault | string; extra?: object[] } = {}): Record<string, unknown> {
  const issue = opts.fault ? `Drill.\nccc-rehearsal: fault=${opts.fault}` : 'The load balancer needs it.';
  return {
    model: 'claude-opus-5-5',
    max_tokens: 1024,
    stream: opts.stream ?? true,
    system: [{ type: 'text', text: 'You are a Claude agent.' }],
    messages: [
      { role: 'user', content: [{ type: 'text', text: `Repository: acme/web\nIssue: #12\nTitle: Add a /health endpoint\nSpecialty: backend\n---\n${issue}` }] },
      { role: 'system', content: `# Environment\n - Primary working directory: ${CWD}\n` },
      ...(opts.extra ?? []),
    ],
  };
}

function post(url: string, path: string, payload: unknown, headers: Record<string, string> = { 'x-api-key': KEY }, signal?: AbortSignal) {
  return fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers }, body: typeof payload === 'string' ? payload : JSON.stringify(payload), signal });
}

/** Parses an SSE body strictly: every event is `event:` + `data:` + blank line, data is JSON whose type is the event name. */
function parseSse(text: string): Array<{ event: string; data: any }> {
  expect(text.endsWith('\n\n')).toBe(true);
  return text.slice(0, -2).split('\n\n').map((chunk) => {
    const [eventLine, dataLine, ...rest] = chunk.split('\n');
    expect(rest).toEqual([]);
    expect(eventLine).toMatch(/^event: \w+$/);
    expect(dataLine).toMatch(/^data: \{/);
    const event = eventLine!.slice('event: '.length);
    const data = JSON.parse(dataLine!.slice('data: '.length));
    expect(data.type).toBe(event);
    return { event, data };
  });
}

describe('rehearsal model server', () => {
  it('streams a turn in Messages API order, with tool input that reassembles to JSON', async () => {
    const s = await server();
    const res = await post(s.url, '/v1/messages?beta=true', body());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = parseSse(await res.text());
    const names = events.map((e) => e.event);
    expect(names[0]).toBe('message_start');
    expect(names.slice(-2)).toEqual(['message_delta', 'message_stop']);
    // Between them: per block start, one or more deltas, stop — with indexes in order.
    const blocks = names.slice(1, -2).join(' ').split(/(?<=content_block_stop)\s*/).filter(Boolean);
    for (const block of blocks) expect(block).toMatch(/^content_block_start( content_block_delta)+ content_block_stop$/);
    expect(blocks).toHaveLength(2);

    const start = events[0]!.data.message;
    expect(start).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-opus-5-5', content: [], stop_reason: null });
    expect(start.usage.input_tokens).toBeGreaterThan(10);
    const delta = events.at(-2)!.data;
    expect(delta.delta.stop_reason).toBe('tool_use');
    expect(delta.usage.output_tokens).toBeGreaterThan(10);

    const toolStart = events.find((e) => e.event === 'content_block_start' && e.data.content_block.type === 'tool_use')!;
    expect(toolStart.data.content_block).toMatchObject({ name: 'Write', input: {} });
    const json = events.filter((e) => e.event === 'content_block_delta' && e.data.index === toolStart.data.index).map((e) => e.data.delta.partial_json as string).join('');
    const input = JSON.parse(json);
    expect(input.file_path).toBe(`${CWD}/server/add_a_health_endpoint.py`);
    expect(input.content).toContain('#12: Add a /health endpoint');
  });

  it('answers a request without stream as one JSON message', async () => {
    const s = await server();
    const res = await post(s.url, '/v1/messages', body({ stream: false }));
    expect(res.status).toBe(200);
    const message = await res.json();
    expect(message).toMatchObject({ type: 'message', role: 'assistant', stop_reason: 'tool_use', content: [{ type: 'text' }, { type: 'tool_use', name: 'Write' }] });
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it('counts tokens', async () => {
    const s = await server();
    const res = await post(s.url, '/v1/messages/count_tokens?beta=true', body());
    expect(res.status).toBe(200);
    const answer = await res.json();
    expect(Object.keys(answer)).toEqual(['input_tokens']);
    expect(answer.input_tokens).toBeGreaterThan(0);
  });

  it('wants a credential header, accepting either form, and never logs it', async () => {
    const s = await server();
    const none = await post(s.url, '/v1/messages', body(), {});
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ type: 'error', error: { type: 'authentication_error', message: expect.any(String) } });
    expect((await post(s.url, '/v1/messages', body({ stream: false }), { authorization: `Bearer ${KEY}` })).status).toBe(200);
    expect((await post(s.url, '/v1/messages', body({ stream: false }))).status).toBe(200);
    expect(s.lines.filter((l) => l.includes('"model request"'))).toHaveLength(3);
    expect(s.lines.join('\n')).not.toContain(KEY);
  });

  it('answers unknown routes and bad bodies with Anthropic errors', async () => {
    const s = await server();
    const missing = await fetch(`${s.url}/v1/models`, { headers: { 'x-api-key': KEY } });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    const notJson = await post(s.url, '/v1/messages', '{');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: { type: 'invalid_request_error', message: 'request body is not JSON' } });
    const noMessages = await post(s.url, '/v1/messages', { model: 'm' });
    expect(noMessages.status).toBe(400);
    expect(await noMessages.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringMatching(/^messages:/) } });
    const typo = await post(s.url, '/v1/messages', body({ fault: 'timeout' }));
    expect(typo.status).toBe(400);
  });

  it.each([
    ['401', 401, 'authentication_error', 'false'],
    ['500', 500, 'api_error', 'true'],
    ['overloaded', 529, 'overloaded_error', 'true'],
  ])('fault=%s from the issue gives HTTP %i %s (x-should-retry: %s)', async (fault, status, type, retry) => {
    const s = await server();
    const res = await post(s.url, '/v1/messages?beta=true', body({ fault }));
    expect(res.status).toBe(status);
    expect(res.headers.get('x-should-retry')).toBe(retry);
    expect(await res.json()).toEqual({ type: 'error', error: { type, message: expect.stringContaining(`fault=${fault}`) } });
  });

  it('applies a server-wide fault to every messages request', async () => {
    const s = await server({ fault: 'overloaded' });
    expect((await post(s.url, '/v1/messages', body())).status).toBe(529);
    expect((await post(s.url, '/v1/messages/count_tokens', body())).status).toBe(200);
  });

  it('holds a hung request open until close() ends it', async () => {
    const s = await server();
    const pending = post(s.url, '/v1/messages?beta=true', body({ fault: 'hang' }));
    const outcome = pending.then(() => 'answered', () => 'connection closed');
    await eventually(() => s.stats.open === 1, 10_000, 'the hung request');
    await s.close();
    expect(await outcome).toBe('connection closed');
    expect(s.stats.open).toBe(0);
  });

  it('stops a delayed stream when the client leaves', async () => {
    const s = await server({ latencyMs: 60_000 });
    const abort = new AbortController();
    const outcome = post(s.url, '/v1/messages', body(), undefined, abort.signal).then(() => 'answered', () => 'aborted');
    await eventually(() => s.stats.open === 1, 10_000, 'the delayed request');
    abort.abort();
    expect(await outcome).toBe('aborted');
    await eventually(() => s.stats.open === 0, 10_000, 'the request to end');
    expect(s.lines.some((l) => l.includes('"level":50'))).toBe(false);
  });

  it('sends every event of a stream with latency too', async () => {
    const s = await server({ latencyMs: 1 });
    const events = parseSse(await (await post(s.url, '/v1/messages', body())).text());
    expect(events.at(-1)!.event).toBe('message_stop');
  });

  it('plays the whole scenario: Write, git status, then a summary with end_turn', async () => {
    const s = await server();
    const turn1 = await (await post(s.url, '/v1/messages', body({ stream: false }))).json();
    const write = turn1.content.find((b: any) => b.type === 'tool_use');
    const after1 = [{ role: 'assistant', content: turn1.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: write.id, content: 'File created' }] }];
    const turn2 = await (await post(s.url, '/v1/messages', body({ stream: false, extra: after1 }))).json();
    expect(turn2.content).toEqual([expect.objectContaining({ type: 'tool_use', name: 'Bash', input: expect.objectContaining({ command: 'git status --short' }) })]);
    const after2 = [...after1, { role: 'assistant', content: turn2.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: turn2.content[0].id, content: '?? server/' }] }];
    const turn3 = await (await post(s.url, '/v1/messages', body({ stream: false, extra: after2 }))).json();
    expect(turn3.stop_reason).toBe('end_turn');
    expect(turn3.content[0].text).toContain('?? server/');
    expect(s.stats.requests).toBe(3);
  });
});

describe('rehearsalKnobsFromEnv (ccc rehearsal-model)', () => {
  it('reads the server-wide knobs and refuses bad values with the valid ones', () => {
    expect(rehearsalKnobsFromEnv({})).toEqual({ fault: undefined, latencyMs: undefined });
    expect(rehearsalKnobsFromEnv({ CCC_REHEARSAL_FAULT: 'hang', CCC_REHEARSAL_LATENCY_MS: '20' })).toEqual({ fault: 'hang', latencyMs: 20 });
    expect(() => rehearsalKnobsFromEnv({ CCC_REHEARSAL_FAULT: 'slow' })).toThrow(/use one of 401, 401-gateway, 500, overloaded, hang, max-turns/);
    expect(() => rehearsalKnobsFromEnv({ CCC_REHEARSAL_LATENCY_MS: '-1' })).toThrow(/from 0 to 600000/);
  });
});

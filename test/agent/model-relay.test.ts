/** The model relay over real sockets: the task token is checked and replaced, answers stream back untouched and are metered, a refused credential stops the run. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClaudeExecutor } from '../../daemons/agent/claude-executor.js';
import { ModelReach } from '../../daemons/agent/model-reach.js';
import { ModelRelay } from '../../daemons/agent/relay/model-relay.js';
import { probeSandbox } from '../../daemons/agent/sandbox/probe.js';
import { startModelServer, type ObservedRequest } from '../../daemons/rehearsal/model-server.js';
import { claudeExecutorSchema } from '../../daemons/shared/cluster-schema.js';
import { packageRoot } from '../../daemons/shared/package-root.js';
import { memoryLogger, onCleanup, tempDir } from '../helpers.js';

const KEY = 'sk-ant-real-key-0123456789abcdef';
const SSE = [
  'event: message_start', 'data: {"type":"message_start","message":{"model":"claude-sonnet-4-5","usage":{"input_tokens":1000,"output_tokens":1}}}', '',
  'event: message_delta', 'data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":200}}', '',
  'event: message_stop', 'data: {"type":"message_stop"}', '', '',
].join('\n');

async function upstream(status = 200) {
  const seen: Array<{ url: string; headers: IncomingHttpHeaders; body: string }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers, body });
      if (status !== 200) return void res.writeHead(status, { 'content-type': 'application/json' }).end('{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // In pieces, to check the stream passes as it comes.
      const half = Math.floor(SSE.length / 2);
      res.write(SSE.slice(0, half));
      setTimeout(() => res.end(SSE.slice(half)), 20);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/base`, seen };
}

async function post(port: number, token: string) {
  const res = await fetch(`http://127.0.0.1:${port}/v1/messages?beta=true`, { method: 'POST', headers: { 'x-api-key': token, 'content-type': 'application/json' }, body: '{"model":"m","messages":[]}' });
  return { status: res.status, retry: res.headers.get('x-should-retry'), text: await res.text() };
}

describe('model relay', () => {
  it('swaps the task token for the real key, streams the answer untouched and meters it', async () => {
    const up = await upstream();
    const relay = new ModelRelay({ upstream: up.url, credential: { apiKey: KEY } });
    const session = await relay.open({ listen: { loopback: true }, onRefused: () => { throw new Error('not refused'); } });
    onCleanup(() => session.close());
    const port = (session.listening as { port: number }).port;

    const wrong = await post(port, 'ccc-task-guessed');
    expect(wrong).toMatchObject({ status: 401, retry: 'false' });
    expect(up.seen).toHaveLength(0);

    const ok = await post(port, session.token);
    expect(ok.status).toBe(200);
    expect(ok.text).toBe(SSE);
    expect(up.seen).toHaveLength(1);
    expect(up.seen[0]!.url).toBe('/base/v1/messages?beta=true');
    expect(up.seen[0]!.headers['x-api-key']).toBe(KEY);
    expect(JSON.stringify(up.seen[0]!.headers)).not.toContain(session.token);
    expect(session.usage).toMatchObject({ requests: 1, inputTokens: 1000, outputTokens: 200 });
    expect(session.usage.costUsd).toBeCloseTo((1000 * 3 + 200 * 15) / 1e6, 8);

    await session.close();
    await expect(post(port, session.token)).rejects.toThrow(); // worthless once its task is over
  });

  it('uses ANTHROPIC_AUTH_TOKEN as a bearer token when there is no key', async () => {
    const up = await upstream();
    const session = await new ModelRelay({ upstream: up.url, credential: { authToken: 'auth-token-0123456789' } }).open({ listen: { loopback: true }, onRefused: () => {} });
    onCleanup(() => session.close());
    await post((session.listening as { port: number }).port, session.token);
    expect(up.seen[0]!.headers.authorization).toBe('Bearer auth-token-0123456789');
    expect(up.seen[0]!.headers['x-api-key']).toBeUndefined();
  });

  it('reports an upstream 401 at once and passes it back with x-should-retry: false', async () => {
    const up = await upstream(401);
    const refused: number[] = [];
    const session = await new ModelRelay({ upstream: up.url, credential: { apiKey: KEY } }).open({ listen: { loopback: true }, onRefused: (s) => refused.push(s) });
    onCleanup(() => session.close());
    const answer = await post((session.listening as { port: number }).port, session.token);
    expect(answer).toMatchObject({ status: 401, retry: 'false' });
    expect(refused).toEqual([401]);
  });
});

const CLAUDE = join(packageRoot, 'node_modules', '.bin', 'claude');
const probe = await probeSandbox();

describe.skipIf(!existsSync(CLAUDE))('a refused credential through the relay (real CLI)', () => {
  it('a gateway 401 without x-should-retry fails the task in seconds, once, naming the credential', async () => {
    const dir = tempDir('ccc-relay-401-');
    const requests: ObservedRequest[] = [];
    const model = await startModelServer({ host: '127.0.0.1', port: 0, log: memoryLogger([]).log, observe: (r) => requests.push(r) });
    onCleanup(() => model.close());
    const repo = join(dir, 'repo');
    mkdirSync(repo);
    execFileSync('git', ['init', '--quiet', repo]);
    const executor = new ClaudeExecutor({
      config: claudeExecutorSchema.parse({ type: 'claude', maxTurns: 3 }),
      env: { PATH: process.env.PATH },
      reach: new ModelReach({ relay: new ModelRelay({ upstream: model.url, credential: { apiKey: KEY } }), sandbox: probe.ok ? 'on' : 'off', probe, dataDir: join(dir, 'data'), egress: [], readOnly: [] }),
    });
    const started = Date.now();
    const progress: string[] = [];
    const outcome = await executor.run(
      { taskId: 3, attempt: 1, workDir: repo, task: { title: 'Anything', body: 'ccc-rehearsal: fault=401-gateway', labels: [], repo: 'acme/web', issueNumber: 3, specialty: 'backend' } },
      { signal: new AbortController().signal, progress: (t) => progress.push(t) },
    );
    const seconds = (Date.now() - started) / 1000;
    expect(outcome).toMatchObject({ outcome: 'failed', retryable: false });
    expect(outcome.summary).toMatch(/HTTP 401.*ANTHROPIC_API_KEY \(or ANTHROPIC_AUTH_TOKEN\) in the agent's env file/);
    expect(seconds).toBeLessThan(15);
    expect(requests.filter((r) => r.url.startsWith('/v1/messages?') || r.url === '/v1/messages')).toHaveLength(1);
    expect(progress.join('\n')).not.toContain('api_retry');
  });
});

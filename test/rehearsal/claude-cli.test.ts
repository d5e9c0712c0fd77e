/**
 * The real Claude Code CLI (node_modules/.bin/claude) against the rehearsal
 * model on 127.0.0.1, in a temp git repository, with the agent's flags and a
 * minimal environment. Runs as whoever runs the tests: acceptEdits with
 * allowedTools works as root too (only the bypass modes refuse root).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initRepo, rehearsalEnv, resultOf, runClaude, type ClaudeRunResult, type StreamEvent } from '../../daemons/rehearsal/cli-drive.js';
import { startModelServer, type ObservedRequest } from '../../daemons/rehearsal/model-server.js';
import { packageRoot } from '../../daemons/shared/package-root.js';
import { eventually, memoryLogger, onCleanup, tempDir } from '../helpers.js';

const CLAUDE = join(packageRoot, 'node_modules', '.bin', 'claude');
/** A guard against a stuck CLI, far above the one or two seconds a run takes. */
const LIMIT_MS = 25_000;

function prompt(body: string): string {
  return ['You are the backend specialist.', '', 'Repository: acme/web', 'Issue: #12', 'Title: Add a /health endpoint', 'Specialty: backend', '---', body, ''].join('\n');
}

async function rehearse(opts: { body?: string; maxTurns?: number; whenHeld?: (run: ReturnType<typeof runClaude>) => void } = {}) {
  const requests: ObservedRequest[] = [];
  const { log } = memoryLogger([]);
  const server = await startModelServer({ host: '127.0.0.1', port: 0, log, observe: (r) => requests.push(r) });
  onCleanup(() => server.close());
  const dir = tempDir('ccc-claude-cli-');
  const repo = join(dir, 'repo');
  const home = join(dir, 'home');
  mkdirSync(repo);
  mkdirSync(home);
  initRepo(repo);
  const sessionId = randomUUID();
  const run = runClaude({
    binary: CLAUDE,
    args: ['-p', '--output-format', 'stream-json', '--verbose', '--max-turns', String(opts.maxTurns ?? 6),
      '--permission-mode', 'acceptEdits', '--allowedTools', 'Write', 'Bash(git status:*)', '--session-id', sessionId],
    cwd: repo,
    env: rehearsalEnv({ path: process.env.PATH ?? '/usr/bin:/bin', home, baseUrl: server.url }),
    prompt: prompt(opts.body ?? 'The load balancer needs a health check.'),
    limitMs: LIMIT_MS,
  });
  onCleanup(() => run.signal('SIGKILL'));
  if (opts.whenHeld) {
    await eventually(() => server.stats.open > 0, LIMIT_MS, 'the CLI to wait on the model');
    opts.whenHeld(run);
  }
  const out = await run.done;
  return { ...out, repo, sessionId, requests, result: resultOf(out.events) };
}

function explain(out: ClaudeRunResult): string {
  return `exit ${out.code} signal ${out.signal}\nstderr: ${out.stderr.slice(-2000)}\nevents: ${out.events.map((e) => `${e.type}/${e.subtype ?? ''}`).join(' ')}`;
}

function toolResults(events: StreamEvent[]): Array<{ content: unknown; is_error?: boolean }> {
  return events
    .filter((e) => e.type === 'user')
    .flatMap((e) => ((e.message as { content?: unknown[] } | undefined)?.content ?? []) as Array<Record<string, unknown>>)
    .filter((b) => b.type === 'tool_result') as Array<{ content: unknown; is_error?: boolean }>;
}

describe.skipIf(!existsSync(CLAUDE))('the real claude CLI against the rehearsal model', () => {
  it('writes the file, runs git status and reports success', async () => {
    const out = await rehearse();
    expect(out.killedAfterLimit, explain(out)).toBe(false);
    expect(out.code, explain(out)).toBe(0);

    const file = join(out.repo, 'server', 'add_a_health_endpoint.py');
    expect(existsSync(file), explain(out)).toBe(true);
    const content = readFileSync(file, 'utf8');
    expect(content).toContain('#12: Add a /health endpoint');
    expect(content).toContain('TITLE = "Add a /health endpoint"');

    const results = toolResults(out.events);
    expect(results).toHaveLength(2);
    expect(results.every((r) => r.is_error !== true), JSON.stringify(results)).toBe(true);
    expect(results[1]!.content).toBe('?? server/');

    expect(out.events[0]).toMatchObject({ type: 'system', subtype: 'init', session_id: out.sessionId, cwd: out.repo, permissionMode: 'acceptEdits' });
    expect(out.events.at(-1)).toBe(out.result);
    expect(out.result).toMatchObject({ type: 'result', subtype: 'success', is_error: false, num_turns: 3, session_id: out.sessionId });
    expect(out.result!.total_cost_usd).toBeGreaterThan(0);
    expect(out.result!.result).toContain('Added server/add_a_health_endpoint.py for #12');

    // What the CLI sent: one streamed request per turn, with the key header and the working directory.
    expect(out.requests.map((r) => `${r.method} ${r.url} stream=${r.body.stream}`)).toEqual(Array(3).fill('POST /v1/messages?beta=true stream=true'));
    expect(out.requests[0]!.headerNames).toContain('x-api-key');
  });

  it('fault=401: a result with subtype success but is_error true, and exit 1', async () => {
    const out = await rehearse({ body: 'ccc-rehearsal: fault=401' });
    expect(out.code, explain(out)).toBe(1);
    expect(out.result).toMatchObject({ subtype: 'success', is_error: true, api_error_status: 401, session_id: out.sessionId });
    // The model said "do not retry" (x-should-retry: false), so one request was enough.
    expect(out.requests).toHaveLength(1);
  });

  it('fault=max-turns with --max-turns 3: subtype error_max_turns', async () => {
    const out = await rehearse({ body: 'ccc-rehearsal: fault=max-turns', maxTurns: 3 });
    expect(out.code, explain(out)).toBe(1);
    expect(out.result).toMatchObject({ subtype: 'error_max_turns', is_error: true, num_turns: 4 });
    expect(out.result!.errors).toEqual(['Reached maximum number of turns (3)']);
  });

  it('SIGTERM while the model hangs: no result event, exit 143', async () => {
    const out = await rehearse({ body: 'ccc-rehearsal: fault=hang', whenHeld: (run) => run.signal('SIGTERM') });
    expect(out.killedAfterLimit).toBe(false);
    expect(out.code, explain(out)).toBe(143);
    expect(out.result).toBeUndefined();
  });
});

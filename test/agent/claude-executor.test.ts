/** The Claude Code executor running the real CLI against the rehearsal model: success, 401, hang, cancel, environment. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SessionStore } from '../../daemons/agent/session-store.js';
import { ClaudeExecutor } from '../../daemons/agent/claude-executor.js';
import { ModelReach } from '../../daemons/agent/model-reach.js';
import { ModelRelay } from '../../daemons/agent/relay/model-relay.js';
import { probeSandbox } from '../../daemons/agent/sandbox/probe.js';
import type { ExecutionOutcome } from '../../daemons/agent/executor.js';
import { claudeExecutorSchema } from '../../daemons/shared/cluster-schema.js';
import { startModelServer } from '../../daemons/rehearsal/model-server.js';
import { eventually, memoryLogger, onCleanup, tempDir } from '../helpers.js';

/** PIDs of processes whose environment has HOME=`home` (the CLI and anything it started). */
function processesWithHome(home: string): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`HOME=${home}`)) pids.push(Number(pid));
    } catch { /* gone, or not ours to read */ }
  }
  return pids;
}

const probe = probeSandbox();

async function setup(overrides: Record<string, unknown> = {}) {
  const dir = tempDir('ccc-claude-');
  const model = await startModelServer({ host: '127.0.0.1', port: 0, log: memoryLogger().log });
  onCleanup(() => model.close());
  const repo = join(dir, 'repo');
  mkdirSync(repo);
  execFileSync('git', ['init', '--quiet', repo]);
  const config = claudeExecutorSchema.parse({ type: 'claude', maxTurns: 6, allowedTools: ['Read', 'Write', 'Bash(git status:*)'], ...overrides });
  const reach = new ModelReach({
    relay: new ModelRelay({ upstream: model.url, credential: { apiKey: 'rehearsal-key-must-not-leak' } }),
    sandbox: 'on', probe: await probe, dataDir: join(dir, 'data'), egress: [], readOnly: [],
  });
  const executor = new ClaudeExecutor({
    config,
    env: { PATH: process.env.PATH, ANTHROPIC_API_KEY: 'rehearsal-key-must-not-leak', CCC_AGENT_TOKEN: 'agent-token-must-not-leak', CCC_GITHUB_TOKEN: 'ghp_must_not_leak', CLAUDE_CODE_MAX_OUTPUT_TOKENS: '4000' },
    reach,
    sessions: new SessionStore(join(dir, 'data', 'claude-sessions')),
  });
  const progress: string[] = [];
  const run = (body: string, signal = new AbortController().signal): Promise<ExecutionOutcome> => executor.run(
    { taskId: 9, attempt: 1, workDir: repo, task: { title: 'Add a /health endpoint', body, labels: [], repo: 'acme/web', issueNumber: 12, specialty: 'backend' } },
    { signal, progress: (t) => progress.push(t) },
  );
  return { executor, run, progress, repo, dir };
}

describe('Claude Code executor (real CLI, rehearsal model)', () => {
  it('succeeds on a success result, with the file written, cost, turns and session id recorded', async () => {
    const { run, progress, repo } = await setup();
    const outcome = await run('Please add it.');
    expect(outcome).toMatchObject({ outcome: 'succeeded', retryable: false, exitCode: 0 });
    expect(outcome.turns).toBeGreaterThanOrEqual(2);
    expect(outcome.costUsd).toBeGreaterThan(0);
    expect(outcome.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(readdirSync(join(repo, 'server')).length).toBe(1);
    expect(progress.some((p) => p.startsWith('tool Write:'))).toBe(true);
    expect(progress.at(-2)).toMatch(/^result: success, \d+ turns, \$/);
    expect(progress.at(-1)).toMatch(/^model relay: 3 requests, \d+ in \/ \d+ out tokens/);
  });

  it('fails without retry when the model answers 401, and says which credential to fix', async () => {
    const { run } = await setup();
    const outcome = await run('ccc-rehearsal: fault=401');
    expect(outcome).toMatchObject({ outcome: 'failed', retryable: false });
    expect(outcome.summary).toContain('ANTHROPIC_API_KEY');
  });

  it('fails without retry at the turn limit', async () => {
    const { run } = await setup({ maxTurns: 2 });
    const outcome = await run('ccc-rehearsal: fault=max-turns');
    expect(outcome).toMatchObject({ outcome: 'failed', retryable: false });
    expect(outcome.summary).toContain('turn limit');
  });

  it('stops a CLI that prints nothing past the idle limit (a hung model), as a retryable failure', async () => {
    const { run } = await setup({ idleTimeoutSeconds: 3 });
    const outcome = await run('ccc-rehearsal: fault=hang');
    expect(outcome).toMatchObject({ outcome: 'failed', retryable: true });
    expect(outcome.summary).toContain('printed nothing for 3 s');
  });

  it('cancels mid-run: the whole process group is stopped', async () => {
    const { run, dir } = await setup();
    const abort = new AbortController();
    const pending = run('ccc-rehearsal: fault=hang', abort.signal);
    const home = join(dir, 'data', 'sandbox', '9-1', 'home');
    await eventually(() => processesWithHome(home).length > 0, 15_000, 'the CLI running');
    abort.abort();
    const outcome = await pending;
    expect(outcome).toMatchObject({ outcome: 'cancelled' });
    expect(processesWithHome(home)).toEqual([]);
    expect(existsSync(home)).toBe(false);
  });

  it('gives the CLI a minimal environment: no cluster or GitHub token, no credential, no auto-updater', async () => {
    const { executor } = await setup();
    const env = executor.childEnv();
    expect(env).toMatchObject({ DISABLE_AUTOUPDATER: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', CLAUDE_CODE_MAX_OUTPUT_TOKENS: '4000' });
    expect(Object.keys(env).filter((k) => k.startsWith('CCC_') || k.startsWith('ANTHROPIC_'))).toEqual([]);
    expect(JSON.stringify(env)).not.toMatch(/must.not.leak/);
  });

  it('fails without retry, naming the fix, when the CLI binary is missing', async () => {
    const { run } = await setup({ binary: '/nonexistent/claude' });
    const outcome = await run('x');
    expect(outcome).toMatchObject({ outcome: 'failed', retryable: false });
    expect(outcome.summary).toContain('/nonexistent/claude: ENOENT');
  });
});

describe('Claude Code executor: follow-ups resume the previous session', () => {
  it('resumes a session this agent kept (fresh home, another worktree), and starts fresh for one it never ran', async () => {
    const { executor, run, dir } = await setup();
    const first = await run('Plain request.');
    expect(first.outcome).toBe('succeeded');
    const session = first.sessionId!;
    const followUpTask = {
      title: 'Follow-up on #7: Add a /health endpoint', body: 'Plain request.', labels: [], repo: 'acme/web', issueNumber: 7, specialty: 'backend',
      branch: 'ccc/12-add-a-health-endpoint', resumeSessionId: session,
      followUp: { kind: 'comment' as const, author: 'alice', body: '/ccc also log each request', pullRequest: 7 },
    };
    const other = join(dir, 'other-worktree');
    mkdirSync(other);
    execFileSync('git', ['init', '--quiet', other]);
    const progress: string[] = [];
    const runIn = (taskId: number, task: typeof followUpTask) => executor.run({ taskId, attempt: 1, workDir: other, task }, { signal: new AbortController().signal, progress: (t) => progress.push(t) });
    const second = await runIn(10, followUpTask);
    expect(second.outcome).toBe('succeeded');
    expect(second.sessionId).toBe(session); // the same conversation, continued
    expect(progress).toContain(`resuming the Claude session ${session}`);
    // The resumed session's earlier turns do not stop the rehearsal model from doing the new task.
    expect(existsSync(join(other, 'server', 'follow_up_on_7_add_a_health_endpoint.py'))).toBe(true);

    for (const resumeSessionId of ['00000000-0000-4000-8000-000000000000', '../../etc/x']) {
      const fresh = await runIn(11, { ...followUpTask, resumeSessionId });
      expect(fresh.outcome).toBe('succeeded');
      expect(fresh.sessionId).not.toBe(session);
      expect(fresh.sessionId).not.toBe(resumeSessionId);
    }
  });
});

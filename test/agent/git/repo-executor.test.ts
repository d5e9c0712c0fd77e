/** RepoExecutor with real git: limits keep the work (real CLI at its turn limit), re-runs, failures that no retry can fix. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unconfinedCli } from './cli-for-tests.js';
import type { Execution, ExecutionOutcome, Executor } from '../../../daemons/agent/executor.js';
import { RepoExecutor } from '../../../daemons/agent/git/repo-executor.js';
import { startModelServer } from '../../../daemons/rehearsal/model-server.js';
import { claudeExecutorSchema } from '../../../daemons/shared/cluster-schema.js';
import type { TaskSpec } from '../../../daemons/shared/protocol.js';
import { packageRoot } from '../../../daemons/shared/package-root.js';
import { memoryLogger, onCleanup } from '../../helpers.js';
import { setup, sh } from './fixture.js';

const CLAUDE = join(packageRoot, 'node_modules', '.bin', 'claude');
const hooks = (progress: string[] = []) => ({ signal: new AbortController().signal, progress: (t: string) => progress.push(t) });
const spec = (over: Partial<TaskSpec> = {}): TaskSpec => ({ title: 'Add search', body: 'Please.', labels: [], repo: 'acme/web', issueNumber: 21, specialty: 'backend', ...over });
const run = (executor: Executor, taskId: number, task: TaskSpec, progress?: string[]) => executor.run({ taskId, attempt: 1, workDir: '/nonexistent', task }, hooks(progress));

/** An inner executor that writes files into its directory and ends as told (what the CLI would leave behind). */
function writing(files: Record<string, string>, outcome: ExecutionOutcome): Executor {
  return {
    async run(execution: Execution) {
      for (const [name, content] of Object.entries(files)) {
        mkdirSync(join(execution.workDir, name, '..'), { recursive: true });
        writeFileSync(join(execution.workDir, name), content);
      }
      return outcome;
    },
  };
}

async function cli(maxTurns: number) {
  const model = await startModelServer({ host: '127.0.0.1', port: 0, log: memoryLogger().log });
  onCleanup(() => model.close());
  const config = claudeExecutorSchema.parse({ type: 'claude', maxTurns });
  return (home: string) => unconfinedCli(config, model.url, home);
}

describe('RepoExecutor', () => {
  it.skipIf(!existsSync(CLAUDE))('pushes the work so far when the real CLI stops at its turn limit, marked incomplete, and does not retry', async () => {
    const { dir, origin, workspaces } = setup();
    const claude = (await cli(4))(join(dir, 'home'));
    const progress: string[] = [];
    const outcome = await run(new RepoExecutor(claude, workspaces, memoryLogger().log), 1, spec({ body: 'ccc-rehearsal: write=notes/plan.md:half%20done fault=max-turns' }), progress);
    expect(outcome, progress.join('\n')).toMatchObject({ outcome: 'failed', retryable: false, branch: 'ccc/21-add-search', base: 'main', incomplete: 'stopped at the turn limit' });
    expect(outcome).not.toHaveProperty('limit');
    expect(outcome.summary).toMatch(/turn limit.*; the work so far is pushed to ccc\/21-add-search$/);
    expect(sh(['rev-parse', 'refs/heads/ccc/21-add-search'], origin)).toBe(outcome.commit);
    expect(sh(['show', '--name-only', '--format=%B', outcome.commit!], origin)).toMatch(/Incomplete: stopped at the turn limit\. reached the turn limit[\s\S]*notes\/plan\.md/);
    expect(progress.some((p) => p.startsWith('pushed the unfinished work to ccc/21-add-search'))).toBe(true);
  }, 60_000);

  it('keeps the work on the budget, wall-clock and idle limits too, and not when keepWorkOnLimit is off', async () => {
    const { origin, workspaces } = setup();
    for (const [i, limit] of (['budget', 'timeout', 'idle'] as const).entries()) {
      const outcome = await run(new RepoExecutor(writing({ [`part-${limit}.txt`]: limit }, { outcome: 'failed', retryable: limit !== 'budget', exitCode: 1, summary: `hit ${limit}`, limit }), workspaces, memoryLogger().log), i + 1, spec({ issueNumber: 30 + i }));
      expect(outcome).toMatchObject({ outcome: 'failed', retryable: limit !== 'budget', incomplete: expect.stringMatching(/^stopped /), branch: `ccc/${30 + i}-add-search` });
      expect(sh(['show', '--name-only', '--format=', outcome.commit!], origin)).toBe(`part-${limit}.txt`);
    }
    const off = new RepoExecutor(writing({ 'part.txt': 'x' }, { outcome: 'failed', retryable: false, exitCode: 1, summary: 'turns', limit: 'turns' }), workspaces, memoryLogger().log, { keepWorkOnLimit: false });
    const outcome = await run(off, 9, spec({ issueNumber: 39 }));
    expect(outcome).toEqual({ outcome: 'failed', retryable: false, exitCode: 1, summary: 'turns' });
    expect(() => sh(['rev-parse', '--verify', 'refs/heads/ccc/39-add-search'], origin)).toThrow();
  });

  it('runs an issue again after a failed run, continuing nothing it did not push', async () => {
    const { origin, workspaces } = setup();
    const failed = await run(new RepoExecutor(writing({ 'half.txt': 'x' }, { outcome: 'failed', retryable: true, exitCode: 1, summary: 'crashed' }), workspaces, memoryLogger().log), 1, spec());
    expect(failed).toMatchObject({ outcome: 'failed', retryable: true, summary: 'crashed' });
    const again = await run(new RepoExecutor(writing({ 'done.txt': 'y' }, { outcome: 'succeeded', retryable: false, exitCode: 0, summary: 'ok' }), workspaces, memoryLogger().log), 2, spec());
    expect(again).toMatchObject({ outcome: 'succeeded', branch: 'ccc/21-add-search' });
    expect(sh(['show', '--name-only', '--format=', again.commit!], origin)).toBe('done.txt');
  });

  it('fails at once, without retry, when the repository or the named branch does not exist', async () => {
    const { workspaces } = setup();
    const never = writing({}, { outcome: 'succeeded', retryable: false, exitCode: 0, summary: 'must not run' });
    const executor = new RepoExecutor(never, workspaces, memoryLogger().log);
    expect(await run(executor, 1, spec({ repo: 'acme/missing' }))).toMatchObject({ outcome: 'failed', retryable: false, summary: expect.stringMatching(/^cannot prepare a workspace of acme\/missing: git fetch --prune failed/) });
    expect(await run(executor, 2, spec({ branch: 'feature/gone' }))).toMatchObject({ outcome: 'failed', retryable: false, summary: expect.stringContaining('branch feature/gone does not exist on the remote acme/web') });
  });

  it('continues a named branch: a reviewer\'s commit stays, the new commit follows it', async () => {
    const { origin, workspaces, reviewerPushes } = setup();
    const first = await run(new RepoExecutor(writing({ 'a.txt': '1' }, { outcome: 'succeeded', retryable: false, exitCode: 0, summary: 'ok' }), workspaces, memoryLogger().log), 1, spec());
    const review = reviewerPushes(first.branch!, 'review.txt');
    const follow = await run(new RepoExecutor(writing({ 'a.txt': '2' }, { outcome: 'succeeded', retryable: false, exitCode: 0, summary: 'ok' }), workspaces, memoryLogger().log), 2, spec({ issueNumber: 99, title: 'Follow-up', branch: first.branch! }));
    expect(follow).toMatchObject({ outcome: 'succeeded', branch: first.branch });
    expect(sh(['rev-parse', `${follow.commit}^`], origin)).toBe(review);
  });

  it('passes a task without a repository through, without the internal limit field', async () => {
    const { workspaces } = setup();
    const inner = writing({}, { outcome: 'failed', retryable: false, exitCode: 1, summary: 'turns', limit: 'turns' });
    expect(await run(new RepoExecutor(inner, workspaces, memoryLogger().log), 1, spec({ repo: null }))).toEqual({ outcome: 'failed', retryable: false, exitCode: 1, summary: 'turns' });
  });

  it('a plan step continues the branch the step before pushed and is given that step\'s diff', async () => {
    const { origin, workspaces } = setup();
    const first = await run(new RepoExecutor(writing({ 'server/health.py': 'def health():\n    return 200\n' }, { outcome: 'succeeded', retryable: false, exitCode: 0, summary: 'API' }), workspaces, memoryLogger().log), 1, spec({ issueNumber: 40 }));
    expect(first.branch).toBe('ccc/40-add-search');
    let seen: Execution | undefined;
    const second: Executor = { async run(execution) { seen = execution; return writing({ 'web/health.tsx': 'export {}\n' }, { outcome: 'succeeded', retryable: false, exitCode: 0, summary: 'page' }).run(execution, hooks()); } };
    const plan = { planId: 9, index: 1, steps: [
      { specialty: 'backend', goal: 'API', state: 'succeeded', agentId: 'backend', commit: first.commit!, summary: 'API' },
      { specialty: 'frontend', goal: 'page', state: 'running', agentId: 'frontend', commit: null, summary: null },
    ] };
    const outcome = await run(new RepoExecutor(second, workspaces, memoryLogger().log), 2, spec({ issueNumber: 40, specialty: 'frontend', branch: first.branch!, plan }));
    expect(seen!.stepDiffs![first.commit!]).toContain('+def health():');
    expect(seen!.stepDiffs![first.commit!]).toContain('server/health.py');
    expect(outcome.branch).toBe('ccc/40-add-search');
    expect(sh(['rev-parse', `${outcome.commit}^`], origin)).toBe(first.commit);
  });

  it.skipIf(!existsSync(CLAUDE))('a planner run (real CLI) answers with its plan and cannot write: the Write it tries is refused, nothing is pushed', async () => {
    const { dir, origin, workspaces } = setup();
    const claude = (await cli(6))(join(dir, 'home'));
    const progress: string[] = [];
    const task = spec({ issueNumber: 50, title: 'Status page: backend and frontend', specialty: 'general', planner: { specialties: ['backend', 'frontend', 'testing'] }, body: 'ccc-rehearsal: write=server/planted.py:x%3D1' });
    let planted: boolean | undefined;
    const observed: Executor = {
      async run(execution, h) {
        const outcome = await claude.run(execution, h);
        planted = existsSync(join(execution.workDir, 'server', 'planted.py'));
        return outcome;
      },
    };
    const outcome = await run(new RepoExecutor(observed, workspaces, memoryLogger().log), 5, task, progress);
    expect(outcome, progress.join('\n')).toMatchObject({ outcome: 'succeeded' });
    expect(progress.join('\n')).toContain('tool Write:'); // it tried
    expect(planted).toBe(false); // and the CLI refused it
    expect(JSON.parse(outcome.summary).steps.map((s: { specialty: string }) => s.specialty)).toEqual(['backend', 'frontend']);
    expect(outcome.branch ?? null).toBeNull();
    expect(sh(['branch', '--list', 'ccc/50-*'], origin)).toBe('');
  }, 60_000);
});

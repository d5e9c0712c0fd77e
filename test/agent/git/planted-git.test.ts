/**
 * What the model plants cannot steer the agent's own git. The real Claude Code
 * CLI, driven by the rehearsal model's `write=` knob, writes git configuration
 * into the cached clone (outside its working directory, as an injected turn
 * did with Edit on main) and into the task directory; what the CLI's file
 * tools cannot do (a `.git` file, chmod +x) is done after the run, as Bash in
 * the sandbox could. Then the agent commits and pushes, and a second,
 * harmless task runs on the same repository. Every planted command would
 * create a marker file; none may exist. On main each scenario ran its command.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unconfinedCli } from './cli-for-tests.js';
import type { Executor } from '../../../daemons/agent/executor.js';
import { RepoExecutor } from '../../../daemons/agent/git/repo-executor.js';
import { startModelServer } from '../../../daemons/rehearsal/model-server.js';
import { claudeExecutorSchema } from '../../../daemons/shared/cluster-schema.js';
import type { TaskSpec } from '../../../daemons/shared/protocol.js';
import { packageRoot } from '../../../daemons/shared/package-root.js';
import { memoryLogger, onCleanup } from '../../helpers.js';
import { setup, sh } from './fixture.js';

const CLAUDE = join(packageRoot, 'node_modules', '.bin', 'claude');

interface Scenario {
  name: string;
  /** `write=` knobs for the first task: [path (absolute, or relative to the task directory), content]. */
  writes: (paths: { mirror: string; marker: string }) => Array<[string, string]>;
  /** What Bash in the sandbox would do after the file tools (the CLI refuses a write to `.git` and cannot chmod). */
  after?: (paths: { mirror: string; marker: string; taskDir: string }) => void;
}

const mirrorConfig = (extra: string) => `[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n[remote "origin"]\n\turl = REMOTE\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n${extra}`;
const hook = (marker: string) => `#!/bin/sh\ntouch '${marker}'\n`;
const HOOKS = ['post-checkout', 'post-commit', 'pre-commit', 'pre-push', 'reference-transaction', 'post-index-change'];

const SCENARIOS: Scenario[] = [
  {
    name: 'core.fsmonitor in the cached clone\'s config (Edit outside the worktree)',
    writes: ({ mirror, marker }) => [[join(mirror, 'config'), mirrorConfig(`[core]\n\tfsmonitor = "touch '${marker}'; false"\n`)]],
  },
  {
    name: 'hooks in the cached clone, made executable',
    writes: ({ mirror, marker }) => HOOKS.map((h) => [join(mirror, 'hooks', h), hook(marker)] as [string, string]),
    after: ({ mirror }) => HOOKS.forEach((h) => chmodSync(join(mirror, 'hooks', h), 0o755)),
  },
  {
    name: 'a .git redirect (gitdir: .x) to a directory with its own config',
    writes: ({ marker }) => [['.x/HEAD', 'ref: refs/heads/main\n'], ['.x/config', `[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tfsmonitor = "touch '${marker}'; false"\n`], ['.x/refs/heads/.keep', ''], ['.x/objects/.keep', '']],
    after: ({ taskDir }) => {
      rmSync(join(taskDir, '.git'), { recursive: true, force: true });
      writeFileSync(join(taskDir, '.git'), 'gitdir: .x\n');
    },
  },
  {
    name: 'include.path and includeIf to a file in the worktree',
    writes: ({ mirror, marker }) => [
      ['evil.cfg', `[core]\n\tfsmonitor = "touch '${marker}'; false"\n[filter "lfs"]\n\tclean = "touch '${marker}'; cat"\n`],
      [join(mirror, 'config'), mirrorConfig('[include]\n\tpath = EVIL\n[includeIf "gitdir:/"]\n\tpath = EVIL\n')],
    ],
  },
  {
    name: 'a .gitattributes filter driver (driver in the clone\'s config and in the task\'s own .git/config)',
    writes: ({ mirror, marker }) => [
      ['.gitattributes', '* filter=evil diff=evil\n'],
      [join(mirror, 'config'), mirrorConfig(`[filter "evil"]\n\tclean = "touch '${marker}'; cat"\n\tsmudge = "touch '${marker}'; cat"\n[diff "evil"]\n\ttextconv = "touch '${marker}'; cat"\n`)],
    ],
    after: ({ taskDir, marker }) => {
      if (existsSync(join(taskDir, '.git', 'config'))) writeFileSync(join(taskDir, '.git', 'config'), `[core]\n\tbare = false\n[filter "evil"]\n\tclean = "touch '${marker}'; cat"\n\tsmudge = "touch '${marker}'; cat"\n`);
    },
  },
];

async function rig() {
  const fx = setup();
  const model = await startModelServer({ host: '127.0.0.1', port: 0, log: memoryLogger().log });
  onCleanup(() => model.close());
  const config = claudeExecutorSchema.parse({ type: 'claude', maxTurns: 30 });
  const cli = unconfinedCli(config, model.url, fx.dir);
  return { ...fx, cli, mirror: join(fx.root, 'mirrors', 'acme', 'web.git') };
}

/** A knob value: percent-encoded, with REMOTE and EVIL filled in. */
const encode = (s: string) => encodeURIComponent(s);

describe.skipIf(!existsSync(CLAUDE))('the agent\'s git ignores what the model planted (real CLI, rehearsal model)', () => {
  for (const [i, scenario] of SCENARIOS.entries()) {
    it(scenario.name, async () => {
      const { dir, origin, root, cli, mirror, workspaces } = await rig();
      const marker = join(dir, `PLANTED-${i}`);
      const taskDir = join(root, 'tasks', '1-1');
      let after = scenario.after;
      const missing: string[] = [];
      const inner: Executor = {
        async run(execution, hooks) {
          const outcome = await cli.run(execution, hooks);
          if (after) for (const [path, content] of planned) if (!existsSync(resolve(execution.workDir, path)) || readFileSync(resolve(execution.workDir, path), 'utf8') !== content) missing.push(path);
          after?.({ mirror, marker, taskDir: execution.workDir });
          after = undefined; // the second task is harmless
          return outcome;
        },
      };
      const executor = new RepoExecutor(inner, workspaces, memoryLogger().log);
      const planned = scenario.writes({ mirror, marker }).map(([path, content]) => [path, content.replace('REMOTE', join(dir, 'remote', 'acme', 'web.git')).replaceAll('EVIL', join(taskDir, 'evil.cfg'))] as const);
      const writes = planned.map(([path, content]) => `write=${encode(path)}:${encode(content)}`);
      const spec = (issueNumber: number, body: string): TaskSpec => ({ title: `Planting ${i}`, body, labels: [], repo: 'acme/web', issueNumber, specialty: 'backend' });
      const progress: string[] = [];
      const first = await executor.run({ taskId: 1, attempt: 1, workDir: join(dir, 'unused'), task: spec(100 + i, `Plant.\n\nccc-rehearsal: ${writes.join(' ')}\n`) }, { signal: new AbortController().signal, progress: (t) => progress.push(t) });
      expect(existsSync(marker), `a planted command ran in the first task (${scenario.name})`).toBe(false);
      expect(first, progress.join('\n')).toMatchObject({ outcome: 'succeeded', branch: `ccc/${100 + i}-planting-${i}` });
      expect(missing, `the CLI did not plant these:\n${progress.join('\n')}`).toEqual([]);
      expect(sh(['show', '--name-only', '--format=', first.commit!], origin)).toContain(`server/planting_${i}.py`);

      const second = await executor.run({ taskId: 2, attempt: 1, workDir: join(dir, 'unused'), task: spec(200 + i, 'A harmless task.') }, { signal: new AbortController().signal, progress: () => undefined });
      expect(second).toMatchObject({ outcome: 'succeeded' });
      expect(existsSync(marker), `a planted command ran (${scenario.name})`).toBe(false);
      expect(readFileSync(join(mirror, 'config'), 'utf8')).not.toMatch(/fsmonitor|include|filter/);
    }, 90_000);
  }

  it('the write knob plants through the real CLI (the test above is not vacuous)', async () => {
    const { dir, cli } = await rig();
    mkdirSync(join(dir, 'work'));
    const target = join(dir, 'outside', 'planted.txt');
    const outcome = await cli.run(
      { taskId: 1, attempt: 1, workDir: join(dir, 'work'), task: { title: 'x', body: `ccc-rehearsal: write=${encode(target)}:${encode('line 1\nline 2\n')}`, labels: [], repo: null, issueNumber: 1, specialty: 'backend' } },
      { signal: new AbortController().signal, progress: () => undefined },
    );
    expect(outcome.outcome).toBe('succeeded');
    expect(readFileSync(target, 'utf8')).toBe('line 1\nline 2\n');
  }, 60_000);
});

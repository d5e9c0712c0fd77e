/**
 * The backend agent's disk fills up, then turns read-only, then is fixed.
 * Its state directory (git mirror, worktrees, the CLI's home) is a small
 * tmpfs of its own; root ignores file modes, so "unwritable" is a read-only
 * mount, which binds root too. Tasks that hit the broken disk must fail
 * (after their attempts) with the cause in their summary; the agent must stay
 * up and take work again once the disk is fixed.
 *
 * Without mount privileges the drill falls back to a file where the
 * workspaces directory should be (ENOTDIR), which binds root as well.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_REPO } from '../../daemons/cli/demo-repo.js';
import { claudeExecutor, drillCluster } from './config.js';
import { runDrill, type Drill, type DrillOptions, type DrillReport, type TaskWithEvents } from './harness.js';

const MAX_ATTEMPTS = 2;

export function diskFull(opts: DrillOptions): Promise<DrillReport> {
  return runDrill('disk', opts, (drill) => run(drill, opts));
}

async function run(drill: Drill, opts: DrillOptions): Promise<TaskWithEvents[]> {
  const agentDir = join(opts.dir, 'state', 'agent-backend');
  mkdirSync(agentDir, { recursive: true });
  const mounted = tryMount(agentDir);
  if (mounted) drill.onCleanup(() => unmount(agentDir), { afterStop: true });
  drill.fact(mounted ? `backend's state directory is a 16 MiB tmpfs at ${agentDir}` : 'cannot mount (not root?): simulating an unwritable disk with a file in place of the workspaces directory');
  await drill.start(drillCluster({ maxAttempts: MAX_ATTEMPTS, leaseSeconds: 5, heartbeatSeconds: 0.5 }, claudeExecutor(30)));
  const agentPid = drill.node('backend').child.pid;
  const ids: number[] = [];
  const batch = async (phase: string, count: number) => {
    const mine: number[] = [];
    for (let i = 0; i < count; i++) mine.push(await drill.submit({ title: `${phase} ${i + 1}`, labels: ['ccc:backend'], repo: DEMO_REPO }));
    ids.push(...mine);
    drill.check(`${phase}: tasks final within 120 s`, await drill.waitFinal(120_000, mine));
    return Promise.all(mine.map((id) => drill.task(id)));
  };
  const expectFailed = (phase: string, tasks: TaskWithEvents[], cause: RegExp) => {
    const summaries = [...new Set(tasks.map((t) => t.result?.summary ?? ''))];
    drill.check(`${phase}: every task failed after ${MAX_ATTEMPTS} attempts`, tasks.every((t) => t.state === 'failed' && t.attempt === MAX_ATTEMPTS), tasks.map((t) => `${t.state}@${t.attempt}`).join(' '));
    drill.check(`${phase}: the failure names the cause`, summaries.every((s) => cause.test(s)), summaries.map((s) => s.slice(0, 160)).join(' | '));
  };

  const warm = await batch('healthy disk', 1);
  drill.check('healthy disk: the task succeeded', warm.every((t) => t.state === 'succeeded'));

  if (mounted) {
    const filler = join(agentDir, 'filler');
    fill(filler);
    drill.fact(`filled the tmpfs: ${statfsSync(agentDir).bavail} blocks left`);
    expectFailed('full disk', await batch('full disk', 2), /No space left on device|ENOSPC/i);
    rmSync(filler);
    execFileSync('mount', ['-o', 'remount,ro', agentDir]);
    expectFailed('read-only disk', await batch('read-only disk', 2), /Read-only file system|EROFS/i);
    execFileSync('mount', ['-o', 'remount,rw', agentDir]);
  } else {
    const workspaces = join(agentDir, 'workspaces');
    rmSync(workspaces, { recursive: true, force: true });
    writeFileSync(workspaces, 'not a directory');
    expectFailed('unwritable workspaces', await batch('unwritable workspaces', 2), /ENOTDIR|not a directory/i);
    rmSync(workspaces);
  }

  const after = await batch('disk fixed', 2);
  drill.check('disk fixed: new tasks succeed on the same agent process', after.every((t) => t.state === 'succeeded' && t.agentId === 'backend') && drill.node('backend').child.pid === agentPid && drill.node('backend').child.exitCode === null);
  const tasks = await drill.audit(ids);
  await drill.scanSecrets(tasks);
  return tasks;
}

function tryMount(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0755', 'ccc-drill', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' }); // still busy: detach now, freed when the last user goes
  }
}

/** Writes zeros until the filesystem says ENOSPC. */
function fill(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

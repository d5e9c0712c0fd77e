/**
 * The backend agent's disk fills up, then turns read-only, then is fixed.
 * Its state directory (git mirror, worktrees, the CLI's home) is a small
 * tmpfs of its own; root ignores file modes, so "unwritable" is a read-only
 * mount, which binds root too. The agent's disk probe must notice and drain
 * it with the cause (GET /agents drainReason, its log), so tasks sent
 * meanwhile wait instead of failing; once the disk is fixed the same agent
 * process resumes and runs them.
 *
 * Without mount privileges the drill falls back to a file where the
 * workspaces directory should be (ENOTDIR), which binds root as well.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_REPO } from '../../daemons/cli/demo-repo.js';
import { claudeExecutor, drillCluster } from './config.js';
import { poll, runDrill, sleep, type Drill, type DrillOptions, type DrillReport, type TaskWithEvents } from './harness.js';

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
    await expectDrained(drill, 'full disk', /ENOSPC/);
    const waiting: number[] = [];
    for (let i = 0; i < 2; i++) waiting.push(await drill.submit({ title: `full disk ${i + 1}`, labels: ['ccc:backend'], repo: DEMO_REPO }));
    execFileSync('mount', ['-o', 'remount,ro', agentDir]);
    await expectDrained(drill, 'read-only disk', /EROFS/);
    for (let i = 0; i < 2; i++) waiting.push(await drill.submit({ title: `read-only disk ${i + 1}`, labels: ['ccc:backend'], repo: DEMO_REPO }));
    await sleep(2000);
    const held = await Promise.all(waiting.map((id) => drill.task(id)));
    drill.check('broken disk: tasks sent meanwhile wait (queued, never assigned)', held.every((t) => t.state === 'queued' && t.attempt === 0), held.map((t) => `${t.id}:${t.state}@${t.attempt}`).join(' '));
    execFileSync('mount', ['-o', 'remount,rw', agentDir]);
    rmSync(filler);
    const resumed = await poll(async () => (await agentView(drill))?.state === 'online', 30_000, 200);
    drill.check('disk fixed: the agent resumes by itself (a probe write succeeded)', resumed);
    ids.push(...waiting);
    drill.check('disk fixed: the waiting tasks final within 120 s', await drill.waitFinal(120_000, waiting));
    const ran = await Promise.all(waiting.map((id) => drill.task(id)));
    drill.check('disk fixed: the waiting tasks succeeded on backend, first attempt', ran.every((t) => t.state === 'succeeded' && t.agentId === 'backend' && t.attempt === 1), ran.map((t) => `${t.id}:${t.state}@${t.attempt} on ${t.agentId}`).join(' '));
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

type AgentView = { id: string; state: string; drainReason?: string };

async function agentView(drill: Drill): Promise<AgentView | undefined> {
  return (await drill.api<{ agents: AgentView[] }>('/agents')).body.agents.find((a) => a.id === 'backend');
}

/** The agent's probe (every 5 s) must drain it with the cause; its log says so too. */
async function expectDrained(drill: Drill, phase: string, cause: RegExp): Promise<void> {
  let seen: AgentView | undefined;
  const drained = await poll(async () => {
    seen = await agentView(drill);
    return seen?.state === 'draining' && cause.test(seen.drainReason ?? '');
  }, 20_000, 200);
  drill.check(`${phase}: the agent drains itself and says why`, drained, `${seen?.state ?? '?'}: ${seen?.drainReason ?? 'no reason'}`);
  const logged = await poll(() => readFileSync(drill.node('backend').logFile, 'utf8').includes('draining until a probe write succeeds'), 5_000, 200);
  drill.check(`${phase}: the agent's log names the problem`, logged);
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

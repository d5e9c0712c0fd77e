/**
 * SIGSTOP the backend agent past its lease, then SIGCONT. The coordinator
 * requeues the task and hands it out again as attempt 2; whatever the paused
 * agent says about attempt 1 afterwards must change nothing. Two rounds:
 *
 * 1. resumed right after the lease ran out. The sweep that requeues the task
 *    also closes the lapsed agent's connection (so the task cannot go straight
 *    back to it), so the stale result never lands on a live connection: the
 *    agent reconnects and drops attempt 1 (welcome.cancel), or, if it still
 *    gets it out, the coordinator ignores it (task event `stale-ignored`);
 * 2. resumed after the agent was shown offline: the same, later.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { commandExecutor, drillCluster } from './config.js';
import { poll, runDrill, sleep, type Drill, type DrillOptions, type DrillReport, type TaskWithEvents } from './harness.js';

const LEASE_MS = 2000;
/** Long next to the lease sweep (every lease/4 = 500 ms), so a pause can end between the two checks. */
const HEARTBEAT_MS = 1500;

export function agentStop(opts: DrillOptions): Promise<DrillReport> {
  return runDrill('agent-stop', opts, (drill) => run(drill, opts));
}

async function run(drill: Drill, opts: DrillOptions): Promise<TaskWithEvents[]> {
  await drill.start(drillCluster({ leaseSeconds: LEASE_MS / 1000, heartbeatSeconds: HEARTBEAT_MS / 1000 },
    commandExecutor(['node', '{packageRoot}/scripts/drill/chatty-task.mjs'])));
  const db = new Database(join(opts.dir, 'state', 'coordinator', 'coordinator.sqlite'), { readonly: true, fileMustExist: true });
  const leaseOf = db.prepare<[number], { lease_expires_at: number | null; attempt: number; state: string }>('SELECT lease_expires_at, attempt, state FROM tasks WHERE id = ?');
  const pid = drill.node('backend').child.pid!;
  const ids: number[] = [];
  try {
    for (const round of ['right after the lease', 'after offline'] as const) {
      const release = join(opts.dir, `release-${ids.length + 1}`);
      const id = await drill.submit({ title: `paused ${round}`, body: `ccc-drill: release=${release}`, labels: ['ccc:backend'] });
      ids.push(id);
      await poll(async () => (await drill.task(id)).state === 'running', 15_000);
      await sleep(200);
      // Pause right after a progress line and long after the last heartbeat: then the lease runs out
      // at least one sweep before the connection counts as silent.
      const inPhase = await poll(() => {
        const row = leaseOf.get(id);
        const sinceBeat = Date.now() - ((row?.lease_expires_at ?? 0) - LEASE_MS);
        return sinceBeat >= 800 && sinceBeat <= 1250;
      }, 10_000, 5);
      process.kill(pid, 'SIGSTOP');
      const stoppedAt = Date.now();
      writeFileSync(release, 'go'); // attempt 1 finishes while its agent is paused
      let resumed: boolean;
      if (round === 'right after the lease') {
        resumed = await poll(() => (leaseOf.get(id)?.attempt ?? 0) > 1 || leaseOf.get(id)?.state === 'queued', LEASE_MS + 3000, 5);
      } else {
        resumed = await poll(async () => (await drill.api<{ agents: Array<{ id: string; state: string }> }>('/agents')).body.agents.some((a) => a.id === 'backend' && a.state === 'offline'), LEASE_MS * 3, 50);
        await sleep(300);
      }
      process.kill(pid, 'SIGCONT');
      drill.fact(`round "${round}": paused ${((Date.now() - stoppedAt) / 1000).toFixed(2)} s (lease ${LEASE_MS / 1000} s)${inPhase ? '' : ', heartbeat phase not found'}${resumed ? '' : ', coordinator did not react in time'}`);
      await poll(async () => (await drill.task(id)).state === 'succeeded' || (await drill.task(id)).state === 'failed', 20_000);
    }
  } finally {
    process.kill(pid, 'SIGCONT'); // never leave it stopped
    db.close();
  }
  drill.check('all tasks final within 30 s', await drill.waitFinal(30_000));
  const tasks = await drill.audit(ids);
  const [gap, closed] = await Promise.all(ids.map((id) => drill.task(id)));
  for (const t of [gap, closed]) {
    if (!t) continue;
    const final = t.events.filter((e) => ['succeeded', 'failed', 'cancelled'].includes(e.kind));
    drill.check(`task ${t.id} ("${t.title}"): requeued on the lease, finished by attempt ${t.attempt} only`,
      t.state === 'succeeded' && t.attempt >= 2 && final.every((e) => e.attempt === t.attempt) && t.events.some((e) => e.kind === 'requeued' && e.message.includes('lease expired')),
      final.map((e) => `${e.kind} at attempt ${e.attempt}`).join(', '));
  }
  // The coordinator logs each reconnect with how many reported tasks it told the agent to drop.
  const coordinatorLog = readFileSync(drill.node('coordinator').logFile, 'utf8').split('\n');
  const drops = coordinatorLog.filter((l) => l.includes('"msg":"agent registered"') && l.includes('"agentId":"backend"') && /"cancelled":[1-9]/.test(l)).length;
  const closedOnLapse = coordinatorLog.some((l) => l.includes('agent silent past its lease; closing its connection') && l.includes('"agentId":"backend"'));
  drill.check('the lapsed lease closed the paused agent\'s connection', closedOnLapse);
  for (const [name, t] of [['right after the lease', gap], ['after offline', closed]] as const) {
    const stale = t?.events.find((e) => e.kind === 'stale-ignored');
    drill.check(`${name}: attempt 1 was dropped through welcome.cancel, or ignored`, drops > 0 || stale !== undefined,
      [drops ? `welcome.cancel named a stale attempt on ${drops} reconnect(s)` : '', stale?.message ?? ''].filter(Boolean).join('; ') || 'neither');
  }
  await drill.scanSecrets(tasks);
  return tasks;
}

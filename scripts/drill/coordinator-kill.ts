/**
 * kill -9 the coordinator three times during a run of N short tasks: twice
 * while tasks are still being submitted, once while the queue drains. Every
 * acknowledged task must be stored, run and finish exactly once.
 */
import { commandExecutor, drillCluster, SPECIALIST_LABELS } from './config.js';
import { killNode, runDrill, sleep, type Drill, type DrillOptions, type DrillReport, type TaskWithEvents } from './harness.js';

const KILLS = 3;

export function coordinatorKill(opts: DrillOptions): Promise<DrillReport> {
  return runDrill('coordinator-kill', opts, (drill) => run(drill, opts));
}

async function run(drill: Drill, opts: DrillOptions): Promise<TaskWithEvents[]> {
  // A lease long enough that agents reconnect (backoff 0.25–2 s) before the restarted coordinator gives up on them.
  await drill.start(drillCluster({ leaseSeconds: 5, heartbeatSeconds: 0.5 }, commandExecutor()));
  const n = opts.tasks;
  const acknowledged: number[] = [];
  let refused = 0;
  let inDoubt = 0;
  let submitting = true;

  const submitter = (async () => {
    for (let i = 0; i < n; i++) {
      // A request the kill cut off may or may not have been stored; retrying it can store it twice (both are audited).
      for (let tries = 0; ; tries++) {
        if (tries > 600) throw new Error(`task ${i} not accepted after 600 tries`);
        try {
          const id = await drill.submit({ title: `drill ${i}`, body: 'ccc-demo: sleep=250', labels: [SPECIALIST_LABELS[i % 4]!] });
          acknowledged.push(id);
          break;
        } catch (err) {
          if (isRefused(err)) refused++;
          else inDoubt++;
          await sleep(50);
        }
      }
    }
    submitting = false;
  })();

  const downtimes: number[] = [];
  const killAt = [Math.floor(n * 0.25), Math.floor(n * 0.6)];
  for (let k = 0; k < KILLS; k++) {
    const at = killAt[k];
    // The last kill comes after the last submission, while tasks still run.
    while (at !== undefined ? acknowledged.length < at : submitting) await sleep(5);
    const tasks = await drill.tasks().catch(() => []);
    const active = tasks.filter((t) => t.state === 'running' || t.state === 'assigned').length;
    const queued = tasks.filter((t) => t.state === 'queued').length;
    const t0 = Date.now();
    await killNode(drill.node('coordinator'));
    await sleep(300);
    await drill.cluster.restart('coordinator');
    downtimes.push((Date.now() - t0) / 1000);
    drill.fact(`kill ${k + 1}: after ${acknowledged.length} acknowledged, ${active} assigned or running, ${queued} queued; back in ${downtimes.at(-1)!.toFixed(2)} s`);
  }
  await submitter;
  const finished = await drill.waitFinal(180_000);
  drill.check('all tasks final within 180 s', finished);
  const tasks = await drill.audit(acknowledged);
  const stored = tasks.length;
  drill.fact(`${acknowledged.length} acknowledged (201), ${stored} stored, ${refused} requests refused while down, ${inDoubt} cut off mid-request`);
  drill.check(`all ${n} submissions acknowledged`, acknowledged.length === n);
  drill.check('every task succeeded', tasks.every((t) => t.state === 'succeeded'), summarize(tasks));
  const requeued = tasks.filter((t) => t.events.some((e) => e.kind === 'requeued')).length;
  const stale = tasks.reduce((sum, t) => sum + t.events.filter((e) => e.kind === 'stale-ignored').length, 0);
  const extra = tasks.filter((t) => t.attempt > 1).length;
  drill.fact(`${requeued} tasks requeued, ${extra} ran more than once, ${stale} stale results ignored`);
  await drill.scanSecrets(tasks);
  return tasks;
}

function isRefused(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } }).cause;
  return cause?.code === 'ECONNREFUSED';
}

export function summarize(tasks: Array<{ state: string }>): string {
  const counts = new Map<string, number>();
  for (const t of tasks) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
  return [...counts].map(([s, c]) => `${c} ${s}`).join(', ');
}

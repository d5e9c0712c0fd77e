/**
 * kill -9 the backend agent while it runs two tasks. Its leases expire, the
 * tasks go back to the queue, and once the agent is restarted they run again
 * and finish once; the other agents' work is not disturbed.
 */
import { commandExecutor, drillCluster } from './config.js';
import { killNode, poll, runDrill, sleep, type Drill, type DrillOptions, type DrillReport, type TaskWithEvents } from './harness.js';
import { descendants, killAll } from './processes.js';

export function agentKill(opts: DrillOptions): Promise<DrillReport> {
  return runDrill('agent-kill', opts, (drill) => run(drill, opts));
}

async function run(drill: Drill, opts: DrillOptions): Promise<TaskWithEvents[]> {
  const leaseSeconds = 2;
  await drill.start(drillCluster({ leaseSeconds, heartbeatSeconds: 0.3 }, commandExecutor()));
  const count = opts.quick ? 4 : 8;
  const backend: number[] = [];
  const others: number[] = [];
  for (let i = 0; i < count; i++) backend.push(await drill.submit({ title: `backend job ${i}`, body: 'ccc-demo: sleep=2500', labels: ['ccc:backend'] }));
  for (let i = 0; i < count; i++) others.push(await drill.submit({ title: `frontend job ${i}`, body: 'ccc-demo: sleep=500', labels: ['ccc:frontend'] }));

  const victims = async () => (await drill.tasks()).filter((t) => t.agentId === 'backend' && t.state === 'running');
  drill.check('backend runs two tasks', await poll(async () => (await victims()).length === 2, 15_000));
  const running = (await victims()).map((t) => t.id);
  const node = drill.node('backend');
  // The executor's children are in process groups of their own: they outlive the agent, as on a real host
  // whose agent crashed. They are stopped (by pid) after the drill has seen what the coordinator does.
  const orphans = descendants(node.child.pid!);
  drill.onCleanup(() => { killAll(orphans); });
  const killedAt = Date.now();
  await killNode(node);
  drill.fact(`killed backend (pid ${node.child.pid}) running tasks ${running.join(', ')}; ${orphans.length} executor processes left behind`);

  const requeued = await poll(async () => {
    const ts = await Promise.all(running.map((id) => drill.task(id)));
    return ts.every((t) => t.events.some((e) => e.kind === 'requeued' && e.message.includes('lease expired')));
  }, leaseSeconds * 1000 + 5000);
  drill.check('both tasks requeued when the lease expired', requeued, `${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill (lease ${leaseSeconds} s)`);
  await sleep(500);
  killAll(orphans);
  await drill.cluster.restart('backend');
  drill.check('all tasks final within 60 s', await drill.waitFinal(60_000));
  const tasks = await drill.audit([...backend, ...others]);
  drill.check('every task succeeded', tasks.every((t) => t.state === 'succeeded'));
  const byId = new Map(tasks.map((t) => [t.id, t]));
  drill.check('the killed tasks succeeded on their second attempt', running.every((id) => byId.get(id)?.attempt === 2),
    running.map((id) => `task ${id}: attempt ${byId.get(id)?.attempt}`).join(', '));
  drill.check('the other agents\' tasks ran once each', others.every((id) => byId.get(id)?.attempt === 1));
  await drill.scanSecrets(tasks);
  return tasks;
}

/**
 * A webhook replay storm: one signed GitHub delivery sent hundreds of times,
 * many at once, plus GitHub's `labeled` twin of the same issue and a flood of
 * forged and unsigned copies. The issue must become exactly one task, which
 * runs once; the dedupe must hold after a kill -9 of the coordinator too.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { sign } from '@octokit/webhooks-methods';
import { commandExecutor, drillCluster } from './config.js';
import { killNode, runDrill, sleep, type Drill, type DrillOptions, type DrillReport, type TaskWithEvents } from './harness.js';

const CONCURRENCY = 25;

interface Example { name: string; examples: Array<Record<string, any>> }
const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as Example[];

/** GitHub's own example of `event.action`, adjusted to an issue of acme/web with the trigger label. */
function issuePayload(action: 'opened' | 'labeled'): Record<string, any> {
  const found = examples.find((d) => d.name === 'issues')?.examples.find((e) => e.action === action);
  if (!found) throw new Error(`@octokit/webhooks-examples has no issues.${action}`);
  const p = structuredClone(found);
  const template = p.issue.labels[0] ?? p.label;
  p.issue.labels = ['ccc', 'ccc:backend'].map((name) => ({ ...template, name }));
  if (action === 'labeled') p.label = { ...template, name: 'ccc' };
  // Long enough to be still running when the twin arrives: once it is done, the label may make a new task (docs/webhooks.md).
  Object.assign(p.issue, { number: 42, title: 'Replay storm', body: 'ccc-demo: sleep=4000', author_association: 'OWNER', state: 'open' });
  p.repository.full_name = 'acme/web';
  return p;
}

export function webhookStorm(opts: DrillOptions): Promise<DrillReport> {
  return runDrill('webhook-storm', opts, (drill) => run(drill, opts));
}

async function run(drill: Drill, opts: DrillOptions): Promise<TaskWithEvents[]> {
  const secret = randomBytes(24).toString('hex');
  drill.secrets.push(secret);
  await drill.start(drillCluster({ leaseSeconds: 5, heartbeatSeconds: 0.5 }, commandExecutor()), { coordinatorEnv: { CCC_WEBHOOK_SECRET: secret } });
  const post = async (body: string, delivery: string, signature: string | null, event = 'issues') => {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': delivery, 'user-agent': 'GitHub-Hookshot/drill' };
    if (signature !== null) headers['x-hub-signature-256'] = signature;
    const res = await fetch(`${drill.cluster.url}/webhooks/github`, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
    const json = (await res.json()) as Record<string, any>;
    return `${res.status}${json.duplicate ? ' duplicate' : json.outcome ? ` ${json.outcome}` : ''}`;
  };
  const storm = async (times: number, send: () => Promise<string>) => {
    const counts = new Map<string, number>();
    for (let done = 0; done < times; done += CONCURRENCY) {
      const answers = await Promise.all(Array.from({ length: Math.min(CONCURRENCY, times - done) }, send));
      for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
    }
    return counts;
  };
  const show = (m: Map<string, number>) => [...m].map(([k, v]) => `${v}× ${k}`).join(', ');

  const replays = opts.quick ? 100 : 500;
  const opened = JSON.stringify(issuePayload('opened'));
  const openedId = randomUUID();
  const openedSig = await sign(secret, opened);
  const first = await storm(replays, () => post(opened, openedId, openedSig));
  drill.check(`${replays} copies of one delivery: one task-created, the rest duplicates`,
    first.get('201 task-created') === 1 && first.get('200 duplicate') === replays - 1, show(first));

  const labeled = JSON.stringify(issuePayload('labeled'));
  const labeledId = randomUUID();
  const labeledSig = await sign(secret, labeled);
  const twin = await storm(50, () => post(labeled, labeledId, labeledSig));
  drill.check('50 copies of its "labeled" twin: one task-exists, the rest duplicates', twin.get('200 task-exists') === 1 && twin.get('200 duplicate') === 49, show(twin));

  const forged = await storm(100, () => post(opened, randomUUID(), `sha256=${randomBytes(32).toString('hex')}`));
  const wrongSecret = await sign('not-the-secret-0123456789', opened);
  const wrong = await storm(50, () => post(opened, randomUUID(), wrongSecret));
  const unsigned = await storm(50, () => post(opened, randomUUID(), null));
  drill.check('200 forged, wrongly signed or unsigned copies: all 401',
    forged.get('401') === 100 && wrong.get('401') === 50 && unsigned.get('401') === 50, `${show(forged)}; ${show(wrong)}; ${show(unsigned)}`);

  drill.check('the task finished within 30 s', await drill.waitFinal(30_000));
  const again = await post(opened, openedId, openedSig);
  const metrics = await (await fetch(`${drill.cluster.url}/metrics`)).text();
  drill.fact(`/metrics: ${metrics.split('\n').filter((l) => l.startsWith('ccc_webhook_deliveries_total')).map((l) => l.replace('ccc_webhook_deliveries_total', '')).join(', ')}`);
  await killNode(drill.node('coordinator'));
  await sleep(200);
  await drill.cluster.restart('coordinator');
  const afterRestart = await post(opened, openedId, openedSig);
  drill.check('replayed after the task finished and after a kill -9: still a duplicate', again === '200 duplicate' && afterRestart === '200 duplicate', `${again}; ${afterRestart}`);

  const tasks = await drill.audit();
  drill.check('exactly one task, which succeeded on its first attempt', tasks.length === 1 && tasks[0]!.state === 'succeeded' && tasks[0]!.attempt === 1,
    tasks.map((t) => `task ${t.id} ${t.state}@${t.attempt}`).join(', '));
  await drill.scanSecrets(tasks);
  return tasks;
}

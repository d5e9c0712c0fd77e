/**
 * The real Claude Code CLI on every agent, against the rehearsal model with
 * a fault per issue (`ccc-rehearsal: fault=…` in the body): 401 fails at
 * once without a retry, 500 and 529 are retried by the CLI and then by the
 * coordinator until the attempts run out, a hung model is cut by the idle
 * watchdog, the turn limit is not retried, and a clean issue still becomes
 * a pushed branch and a pull request.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DEMO_REPO } from '../../daemons/cli/demo-repo.js';
import { loopbackFor } from '../../daemons/cli/local-cluster.js';
import { parseTask } from '../../daemons/rehearsal/prompt.js';
import { startModelServer } from '../../daemons/rehearsal/model-server.js';
import { createLogger } from '../../daemons/shared/log.js';
import { claudeExecutor, drillCluster } from './config.js';
import { poll, runDrill, type Drill, type DrillOptions, type DrillReport, type TaskWithEvents } from './harness.js';
import { processesIn } from './processes.js';

const MAX_ATTEMPTS = 2;
const IDLE_SECONDS = 20;
/** The CLI's own retries of a 5xx (default 10, about 3 minutes for a 500); an operator setting it honours. */
const CLI_RETRIES = 2;

interface Case {
  knobs: string | null;
  label: string;
  state: 'succeeded' | 'failed';
  attempts: number;
  summary: RegExp;
  /** Model requests per attempt, when the case fixes it. */
  requestsPerAttempt?: number;
}

const CASES: Case[] = [
  { knobs: null, label: 'ccc:backend', state: 'succeeded', attempts: 1, summary: /./ },
  { knobs: 'fault=401', label: 'ccc:frontend', state: 'failed', attempts: 1, summary: /refused the (agent's )?credential \(HTTP 401\)/, requestsPerAttempt: 1 },
  { knobs: 'fault=401-gateway', label: 'ccc:devops', state: 'failed', attempts: 1, summary: /refused the agent's credential \(HTTP 401\): set ANTHROPIC_API_KEY/, requestsPerAttempt: 1 },
  { knobs: 'fault=overloaded', label: 'ccc:testing', state: 'failed', attempts: MAX_ATTEMPTS, summary: /HTTP 529/, requestsPerAttempt: CLI_RETRIES + 1 },
  { knobs: 'fault=500', label: 'ccc:devops', state: 'failed', attempts: MAX_ATTEMPTS, summary: /HTTP 500/, requestsPerAttempt: CLI_RETRIES + 1 },
  { knobs: 'fault=hang', label: 'ccc:backend', state: 'failed', attempts: MAX_ATTEMPTS, summary: new RegExp(`printed nothing for ${IDLE_SECONDS} s`), requestsPerAttempt: 1 },
  { knobs: 'fault=max-turns', label: 'ccc:frontend', state: 'failed', attempts: 1, summary: /turn limit/ },
  { knobs: 'latency=100', label: 'ccc:testing', state: 'succeeded', attempts: 1, summary: /./ },
];

export function modelFaults(opts: DrillOptions): Promise<DrillReport> {
  return runDrill('model-faults', opts, (drill) => run(drill, opts));
}

async function run(drill: Drill, opts: DrillOptions): Promise<TaskWithEvents[]> {
  const requests = new Map<string, number>();
  const model = await startModelServer({
    host: loopbackFor('192.168.56.10'), port: 0, log: createLogger({ level: 'warn', name: 'rehearsal-model', secrets: [] }),
    observe: (r) => {
      const title = parseTask(r.body)?.title ?? '(none)';
      requests.set(title, (requests.get(title) ?? 0) + 1);
    },
  });
  drill.onCleanup(() => model.close(), { afterStop: true });
  const apiKey = `sk-drill-${randomBytes(16).toString('hex')}`;
  const pushToken = `ghs_drill${randomBytes(16).toString('hex')}`;
  drill.secrets.push(apiKey, pushToken);
  await drill.start(drillCluster({ maxAttempts: MAX_ATTEMPTS, leaseSeconds: 5, heartbeatSeconds: 0.5 }, claudeExecutor(IDLE_SECONDS)), {
    model: 'anthropic',
    agentEnv: { CCC_ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: apiKey, CCC_GIT_PUSH_TOKEN: pushToken, CLAUDE_CODE_MAX_RETRIES: String(CLI_RETRIES) },
  });
  const cases = opts.quick ? CASES.filter((c) => c.knobs !== 'latency=100') : CASES;
  const ids = new Map<number, Case>();
  for (const c of cases) {
    const body = c.knobs ? `Drill.\n\nccc-rehearsal: ${c.knobs}\n` : 'Drill: no fault.';
    ids.set(await drill.submit({ title: `model ${c.knobs ?? 'ok'}`, body, labels: [c.label], repo: DEMO_REPO }), c);
  }
  drill.check('all tasks final within 150 s', await drill.waitFinal(150_000));
  for (const [id, c] of ids) {
    const t = await drill.task(id);
    const retries = t.events.filter((e) => e.kind === 'retry-scheduled').length;
    const n = requests.get(t.title) ?? 0;
    const summary = t.result?.summary ?? '';
    drill.check(`${c.knobs ?? 'no fault'}: ${c.state} after ${c.attempts} attempt${c.attempts > 1 ? 's' : ''}`,
      t.state === c.state && t.attempt === c.attempts && retries === c.attempts - 1 && c.summary.test(summary),
      `${t.state}, attempt ${t.attempt}, ${retries} retries, ${n} model requests: ${summary.slice(0, 110)}`);
    if (c.requestsPerAttempt !== undefined) {
      drill.check(`${c.knobs}: ${c.requestsPerAttempt} model request${c.requestsPerAttempt > 1 ? 's' : ''} per attempt`, n === c.requestsPerAttempt * c.attempts, `${n} in ${t.attempt} attempts`);
    }
  }
  const ok = [...ids].filter(([, c]) => c.state === 'succeeded').map(([id]) => id);
  const withPr = await poll(async () => (await Promise.all(ok.map((id) => drill.task(id)))).every((t) => t.pullRequest && t.result?.commit), 15_000);
  drill.check('the clean issues became pushed branches with pull requests', withPr);
  const left = processesIn(join(opts.dir, 'state'));
  drill.check('no CLI process left behind', left.length === 0, left.map((p) => `${p.pid} ${p.cmd}`).join('; ') || 'none under the agents\' directories');
  drill.check('no model request left open (the hung ones ended with their CLI)', model.stats.open === 0, `${model.stats.requests} requests, ${model.stats.open} open`);
  const tasks = await drill.audit([...ids.keys()]);
  await drill.scanSecrets(tasks);
  return tasks;
}

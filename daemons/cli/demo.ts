/**
 * `ccc up --demo`: one sample issue per specialty on the demo repository, and one issue that
 * needs all four (a plan: each specialist in turn on one branch), each followed to its pull request.
 */
import { DEMO_REPO } from './demo-repo.js';

export const DEMO_ISSUES = [
  { title: 'Add a /health endpoint to the API', body: 'It should answer 200 with {"ok": true} so the load balancer can check us.', specialty: 'backend' },
  { title: 'Make the login button accessible', body: 'Screen readers announce it as "button"; give it a label and a visible focus ring.', specialty: 'frontend' },
  { title: 'Cover the login flow with a test', body: 'A regression slipped through last week; add a test for a wrong password.', specialty: 'testing' },
  { title: 'Add a CI pipeline that runs the tests', body: 'Every push should build the image and run the test suite.', specialty: 'devops' },
] as const;

/** Labelled with all four specialties: a plan whose four steps end in one pull request with four commits. */
export const DEMO_PLAN = {
  title: 'Add a status page for the service',
  body: 'An endpoint that reports the version and uptime, a page that shows it, a test for both, and a pipeline step that checks it after each deploy.',
  labels: ['ccc:backend', 'ccc:frontend', 'ccc:testing', 'ccc:devops'],
} as const;

interface DemoTask {
  id: number;
  state: string;
  agentId: string | null;
  specialty: string;
  title: string;
  pullRequest: { number: number; url: string } | null;
  result?: { summary: string; turns?: number | null; costUsd?: number | null };
  kind?: 'task' | 'plan';
  steps?: Array<{ index: number; specialty: string; state: string; agentId: string | null }>;
}

const FINAL = ['succeeded', 'failed', 'cancelled'];

/** Submits the issues, prints each state change, and resolves with the finished tasks. */
export async function runDemo(url: string, token: string, say: (line: string) => void, timeoutMs = 300_000): Promise<DemoTask[]> {
  const call = async (path: string, body?: unknown): Promise<any> => {
    const res = await fetch(`${url}/api/v1${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await res.json()) as any;
    if (!res.ok) throw new Error(`${path}: ${json.error?.message ?? res.status}`);
    return json;
  };
  const ids: number[] = [];
  for (const issue of DEMO_ISSUES) {
    const { task } = await call('/tasks', { title: issue.title, body: issue.body, repo: DEMO_REPO, labels: [`ccc:${issue.specialty}`] });
    ids.push(task.id);
    say(`demo: task ${task.id} "${issue.title}" → ${task.specialty}`);
  }
  const { task: plan } = await call('/tasks', { ...DEMO_PLAN, labels: [...DEMO_PLAN.labels], repo: DEMO_REPO });
  ids.push(plan.id);
  say(`demo: plan ${plan.id} "${DEMO_PLAN.title}" → ${(plan as DemoTask).steps!.map((s) => s.specialty).join(' → ')}, one after another on one branch`);
  const seen = new Map<number, string>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const tasks = await Promise.all(ids.map(async (id) => (await call(`/tasks/${id}`)).task as DemoTask));
    for (const t of tasks) {
      const state = t.state === 'succeeded' && !t.pullRequest ? 'opening pull request' : t.state;
      for (const s of t.steps ?? []) {
        const key = -(t.id * 100 + s.index); // a step's own line, keyed apart from tasks
        if (seen.get(key) === s.state || s.state === 'pending') continue;
        seen.set(key, s.state);
        say(`demo: plan ${t.id} step ${s.index + 1} (${s.specialty}) ${s.state}${s.agentId ? ` on ${s.agentId}` : ''}`);
      }
      if (seen.get(t.id) === state) continue;
      seen.set(t.id, state);
      say(`demo: ${t.kind === 'plan' ? 'plan' : 'task'} ${t.id} ${state}${t.agentId ? ` on ${t.agentId}` : ''}${t.pullRequest ? ` → pull request #${t.pullRequest.number}` : ''}`);
    }
    const done = tasks.every((t) => FINAL.includes(t.state) && (t.state !== 'succeeded' || t.pullRequest));
    if (done) return tasks;
    if (Date.now() > deadline) throw new Error(`the demo did not finish within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

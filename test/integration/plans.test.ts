/**
 * Plans with real parts: the coordinator and four agent processes, the real
 * `claude` CLI against the rehearsal model, git pushing to the local forge.
 * One issue with four specialty labels becomes four steps, each on its own
 * specialist's machine, handed on along one branch into one pull request;
 * a failed middle step is retried from that step; a coordinator killed with
 * SIGKILL mid-plan, or an agent lost mid-step, loses no step and runs none twice.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startLocalCluster, type LocalCluster } from '../../daemons/cli/local-cluster.js';
import { descendants, killAll } from '../../scripts/drill/processes.js';
import { api, clusterConfig, eventually, onCleanup, tempDir, writeCluster } from '../helpers.js';
import { cli } from '../cli/run-cli.js';
import { ensureDemoRepo } from '../../daemons/cli/demo-repo.js';
import { githubStandIn } from '../github-stand-in.js';
import { SECRET, comment, deliver } from '../github-webhooks.js';

const LABELS = ['ccc:devops', 'ccc:testing', 'ccc:frontend', 'ccc:backend'];
const ORDER = ['backend', 'frontend', 'testing', 'devops'];

function config(agents?: object[]) {
  return clusterConfig({
    ...(agents ? { agents } : {}),
    agent: {
      drainTimeoutSeconds: 2,
      executor: { type: 'claude', maxTurns: 6, permissionMode: 'acceptEdits', allowedTools: ['Read', 'Write', 'Bash(git status:*)'], idleTimeoutSeconds: 60, timeoutSeconds: 120 },
    },
  });
}

async function start(prefix: string, agents?: object[]): Promise<{ cluster: LocalCluster; dir: string }> {
  const dir = tempDir(prefix);
  const cluster = await startLocalCluster({ configFile: writeCluster(dir, config(agents)), dataDir: join(dir, 'state'), port: 0 });
  onCleanup(() => cluster.stop());
  return { cluster, dir };
}

async function submitPlan(cluster: LocalCluster, body = 'The API, a page that uses it, tests and the pipeline.'): Promise<any> {
  const res = await api(cluster.url, '/tasks', { method: 'POST', token: cluster.adminToken, body: { title: 'Add a health report', body, labels: LABELS, repo: 'demo/app' } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.task;
}

const getTask = async (cluster: LocalCluster, id: number) => (await api(cluster.url, `/tasks/${id}`, { token: cluster.adminToken })).body.task;

async function until(cluster: LocalCluster, id: number, state: string, timeoutMs = 150_000): Promise<any> {
  return eventually(async () => {
    const t = await getTask(cluster, id).catch(() => undefined);
    if (t && state !== 'failed' && (t.state === 'failed' || t.state === 'cancelled')) throw new Error(`plan ${id} ${t.state}: ${t.result?.summary}`);
    return t?.state === state && (state !== 'succeeded' || t.pullRequest) ? t : undefined;
  }, timeoutMs, `plan ${id} to be ${state}`);
}

/** The commits of the plan's branch since the forge's main, oldest first, with the agent each message names. */
function branchCommits(cluster: LocalCluster, branch: string): Array<{ sha: string; by: string }> {
  const out = execFileSync('git', ['--git-dir', join(cluster.forgeRoot, 'demo', 'app.git'), 'log', '--reverse', '--format=%H %b', `main..refs/heads/${branch}`]).toString();
  return out.split('\n').filter((l) => /^[0-9a-f]{40} /.test(l)).map((l) => ({ sha: l.slice(0, 40), by: /Made by the (\S+) agent/.exec(l)?.[1] ?? '?' }));
}

function expectFourCommitsInOrder(cluster: LocalCluster, plan: any): void {
  const commits = branchCommits(cluster, plan.branch);
  expect(commits.map((c) => c.by)).toEqual(ORDER);
  expect(commits.map((c) => c.sha)).toEqual(plan.steps.map((s: any) => s.commit));
}

describe('plans: one issue, four specialists in turn, one pull request', { timeout: 300_000 }, () => {
  it('runs the four steps in planOrder on their own agents, one branch, one pull request listing them', async () => {
    const { cluster, dir } = await start('ccc-plan-');
    const plan = await submitPlan(cluster);
    expect(plan).toMatchObject({ kind: 'plan', specialty: 'plan' });
    expect(plan.steps.map((s: any) => s.specialty)).toEqual(ORDER);
    const done = await until(cluster, plan.id, 'succeeded');
    expect(done.steps.map((s: any) => [s.specialty, s.state, s.agentId, s.attempt])).toEqual(ORDER.map((s) => [s, 'succeeded', s, 1]));
    expectFourCommitsInOrder(cluster, done);
    const pulls = (await api(cluster.url, '/forge/pulls', { token: cluster.adminToken })).body.pulls;
    expect(pulls).toHaveLength(1);
    expect(pulls[0].head).toBe(done.branch);
    const pull = (await api(cluster.url, `/forge/pulls/${pulls[0].number}`, { token: cluster.adminToken })).body.pull;
    for (const s of done.steps) expect(pull.body).toContain(s.commit.slice(0, 12));
    const third = await getTask(cluster, done.steps[2].taskId);
    expect(third.branch).toBe(done.branch);
    // The CLI shows the plan with its steps under it.
    const env = { CCC_COORDINATOR_URL: cluster.url, CCC_ADMIN_TOKEN: cluster.adminToken, CCC_DATA_DIR: join(dir, 'cli') };
    const tasks = await cli(['tasks'], env);
    expect(tasks.code, tasks.stderr).toBe(0);
    expect(tasks.stdout).toMatch(new RegExp(`${plan.id} +succeeded +plan 4/4`));
    for (const [i, s] of ORDER.entries()) expect(tasks.stdout).toMatch(new RegExp(`${done.steps[i].taskId} +succeeded +└ ${i + 1} ${s} +${s} `));
    const logs = await cli(['logs', String(plan.id)], env);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(/2\. frontend +succeeded on frontend \(attempt 1\), commit [0-9a-f]{12}, task \d+/);
    expect(logs.stdout).toMatch(/plan-step +step 4 of 4 \(devops\) is task \d+ after step 3 \(testing\) on testing/);
  });

  it('a failed middle step stops the plan; the retry runs from that step and not before it', async () => {
    const { cluster } = await start('ccc-plan-retry-');
    cluster.model!.setFault('401', 'frontend'); // the model API refuses the frontend step's key
    const plan = await submitPlan(cluster);
    const failed = await until(cluster, plan.id, 'failed');
    expect(failed.steps.map((s: any) => s.state)).toEqual(['succeeded', 'failed', 'pending', 'pending']);
    expect(failed.result.summary).toMatch(/step 2 \(frontend/);
    cluster.model!.setFault(undefined);
    const retried = await api(cluster.url, `/tasks/${plan.id}/retry`, { method: 'POST', token: cluster.adminToken });
    expect(retried.status).toBe(200);
    const done = await until(cluster, plan.id, 'succeeded');
    expect(done.steps.map((s: any) => s.attempt)).toEqual([1, 2, 1, 1]);
    expectFourCommitsInOrder(cluster, done);
  });

  it('a coordinator killed with SIGKILL mid-plan loses no step and runs none twice', async () => {
    const { cluster } = await start('ccc-plan-kill-');
    const plan = await submitPlan(cluster, 'Slow model turns, so the kill lands mid-step.\nccc-rehearsal: latency=250');
    await eventually(async () => (await getTask(cluster, plan.id)).steps[1].state === 'running', 90_000, 'step 2 to run');
    const coordinator = cluster.nodes[0]!;
    const exited = new Promise((r) => coordinator.child.once('exit', r));
    coordinator.child.kill('SIGKILL');
    await exited;
    await cluster.restart('coordinator');
    const done = await until(cluster, plan.id, 'succeeded');
    expect(done.steps.map((s: any) => s.attempt)).toEqual([1, 1, 1, 1]);
    for (const step of done.steps) {
      const events = (await getTask(cluster, step.taskId)).events.map((e: any) => e.kind);
      expect(events.filter((k: string) => k === 'started'), `task ${step.taskId}: ${events.join(', ')}`).toHaveLength(1);
    }
    expectFourCommitsInOrder(cluster, done);
  });

  it('an agent lost mid-step hands the step to another agent of that specialty', async () => {
    const agents = [...(clusterConfig().agents as object[]), { name: 'frontend-2', ip: '192.168.56.15', specialties: ['frontend'], capacity: 1 }];
    const { cluster } = await start('ccc-plan-lost-', agents);
    const plan = await submitPlan(cluster, 'Slow model turns, so the agent is lost mid-step.\nccc-rehearsal: latency=250');
    const running = await eventually(async () => {
      const step = (await getTask(cluster, plan.id)).steps[1];
      return step.state === 'running' ? step : undefined;
    }, 90_000, 'step 2 to run');
    const victim = cluster.nodes.find((n) => n.name === running.agentId)!;
    const orphans = descendants(victim.child.pid!);
    onCleanup(() => { killAll(orphans); });
    const exited = new Promise((r) => victim.child.once('exit', r));
    victim.child.kill('SIGKILL');
    await exited;
    killAll(orphans); // a crashed host takes its CLI with it
    const done = await until(cluster, plan.id, 'succeeded');
    const other = running.agentId === 'frontend' ? 'frontend-2' : 'frontend';
    expect(done.steps[1]).toMatchObject({ state: 'succeeded', agentId: other, attempt: 2 });
    expect(done.steps.map((s: any) => s.attempt)).toEqual([1, 2, 1, 1]);
    const commits = branchCommits(cluster, done.branch);
    expect(commits.map((c) => c.by)).toEqual(ORDER);
    expect(commits.map((c) => c.sha)).toEqual(done.steps.map((s: any) => s.commit));
  });

  it('on GitHub (stand-in): /ccc plan proposes the steps on the issue, /ccc approve runs them into one pull request', async () => {
    const dir = tempDir('ccc-plan-github-');
    const gh = await githubStandIn();
    const remote = join(dir, 'github');
    ensureDemoRepo(remote, 'acme/web');
    const cluster = await startLocalCluster({
      configFile: writeCluster(dir, config()), dataDir: join(dir, 'state'), port: 0,
      coordinatorEnv: { CCC_WEBHOOK_SECRET: SECRET, CCC_GITHUB_TOKEN: 'ghp_plantoken_0123456789abcdef', CCC_GITHUB_API_URL: gh.url },
      agentEnv: { CCC_GIT_URL_TEMPLATE: `file://${remote}/{owner}/{repo}.git` },
    });
    onCleanup(() => cluster.stop());
    const onIssue = (body: string) => {
      const c = comment(body, 'OWNER') as any;
      c.repository.full_name = 'acme/web';
      c.issue.number = 21;
      c.issue.title = 'Status page: a backend endpoint and a frontend page';
      return deliver(cluster.url, c, { event: 'issue_comment' });
    };
    const early = await onIssue('/ccc approve');
    expect(early.status).toBe(202);
    expect(early.body.ignored).toMatch(/no \/ccc plan proposal/);

    const asked = await onIssue('/ccc plan');
    expect(asked.status, JSON.stringify(asked.body)).toBe(201);
    expect(asked.body).toMatchObject({ outcome: 'planner-started', task: { kind: 'planner', specialty: 'general' } });
    const proposed = await eventually(async () => {
      const t = await getTask(cluster, asked.body.task.id);
      if (t.state === 'failed') throw new Error(`planner failed: ${t.result?.summary}`);
      return t.proposal ? t : undefined;
    }, 90_000, 'the proposal');
    expect(proposed.proposal.map((s: any) => s.specialty)).toEqual(['backend', 'frontend']);
    expect(proposed.result.commit ?? null).toBeNull(); // read only: nothing pushed
    await eventually(() => [...gh.comments.values()].some((c) => c.includes('Proposed plan') && c.includes('/ccc approve')), 20_000, 'the proposal on the issue');

    const approved = await onIssue('/ccc approve');
    expect(approved.status, JSON.stringify(approved.body)).toBe(201);
    expect(approved.body).toMatchObject({ outcome: 'plan-created', task: { kind: 'plan' } });
    const done = await until(cluster, approved.body.task.id, 'succeeded');
    expect(done.steps.map((s: any) => [s.specialty, s.agentId])).toEqual([['backend', 'backend'], ['frontend', 'frontend']]);
    expect(gh.pulls).toHaveLength(1);
    expect(gh.pulls[0]!.body).toMatch(/^Closes #21\n/);
    await eventually(() => [...gh.comments.values()].some((c) => c.includes('Done: every step finished.')), 20_000, 'the checklist done');
    expect((await onIssue('/ccc approve')).status).toBe(202); // approved once only
  });

  it('on the local forge: ccc submit --propose, then ccc approve <id> runs the proposal', async () => {
    const { cluster, dir } = await start('ccc-plan-propose-');
    const env = { CCC_COORDINATOR_URL: cluster.url, CCC_ADMIN_TOKEN: cluster.adminToken, CCC_DATA_DIR: join(dir, 'cli') };
    const submitted = await cli(['submit', '--propose', '--title', 'Status page: the backend endpoint, the frontend page, testing', '--repo', 'demo/app'], env);
    expect(submitted.code, submitted.stderr).toBe(0);
    const id = Number(/planner task (\d+) submitted/.exec(submitted.stdout)?.[1]);
    expect(id).toBeGreaterThan(0);
    const tooEarly = await cli(['approve', String(id)], env);
    if (tooEarly.code !== 0) expect(tooEarly.stderr).toMatch(/has no proposal to approve/);
    const proposed = await eventually(async () => ((await getTask(cluster, id)).proposal ? true : undefined), 90_000, 'the proposal');
    expect(proposed).toBe(true);
    const approved = tooEarly.code === 0 ? tooEarly : await cli(['approve', String(id)], env);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(/^plan \d+: backend → frontend → testing/);
    const planId = Number(/^plan (\d+)/.exec(approved.stdout)![1]);
    const done = await until(cluster, planId, 'succeeded');
    expect(done.steps.map((s: any) => s.agentId)).toEqual(['backend', 'frontend', 'testing']);
    const again = await cli(['approve', String(id)], env);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/approved already/);
  });
});

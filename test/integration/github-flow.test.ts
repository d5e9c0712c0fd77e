/**
 * The whole path of issue → pull request with real parts: a signed GitHub
 * delivery, the coordinator process, the backend agent process running the
 * real `claude` CLI against the rehearsal model, git pushing to a bare
 * repository, and Octokit opening the pull request on a local GitHub stand-in.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureDemoRepo } from '../../daemons/cli/demo-repo.js';
import { startLocalCluster } from '../../daemons/cli/local-cluster.js';
import { githubStandIn } from '../github-stand-in.js';
import { SECRET, deliver, openedWith } from '../github-webhooks.js';
import { api, clusterConfig, eventually, onCleanup, tempDir, writeCluster } from '../helpers.js';

const GITHUB_TOKEN = 'ghp_flowtesttoken_0123456789abcdef';

describe('issue to pull request', () => {
  it('turns a signed issues.opened delivery into a pull request made by the real CLI on the backend agent', async () => {
    const dir = tempDir('ccc-flow-');
    const gh = await githubStandIn();
    const remote = join(dir, 'github');
    const bare = ensureDemoRepo(remote, 'acme/web');
    const config = clusterConfig({
      agent: {
        drainTimeoutSeconds: 2,
        executor: { type: 'claude', maxTurns: 6, permissionMode: 'acceptEdits', allowedTools: ['Read', 'Write', 'Bash(git status:*)'], idleTimeoutSeconds: 60, timeoutSeconds: 120 },
      },
    });
    const cluster = await startLocalCluster({
      configFile: writeCluster(dir, config), dataDir: join(dir, 'state'), port: 0,
      coordinatorEnv: { CCC_WEBHOOK_SECRET: SECRET, CCC_GITHUB_TOKEN: GITHUB_TOKEN, CCC_GITHUB_API_URL: gh.url },
      agentEnv: { CCC_GIT_URL_TEMPLATE: `file://${remote}/{owner}/{repo}.git` },
    });
    onCleanup(() => cluster.stop());

    const payload = openedWith(['ccc', 'ccc:backend']);
    payload.repository.full_name = 'acme/web';
    payload.issue.number = 12;
    payload.issue.title = 'Add a /health endpoint';
    payload.issue.body = 'It should answer 200 with {"ok": true}.';
    payload.issue.author_association = 'OWNER';
    const delivered = await deliver(cluster.url, payload);
    expect(delivered.status).toBe(201);
    const id = delivered.body.task.id;

    const task = await eventually(async () => {
      const t = (await api(cluster.url, `/tasks/${id}`, { token: cluster.adminToken })).body.task;
      if (t.state === 'failed') throw new Error(`task failed: ${t.result?.summary}`);
      return t.state === 'succeeded' && t.pullRequest ? t : undefined;
    }, 120_000, 'task succeeded with a pull request');

    // The right specialist ran the real CLI, which wrote a file through its Write tool.
    expect(task).toMatchObject({ agentId: 'backend', specialty: 'backend', source: 'github', issueNumber: 12 });
    expect(task.result).toMatchObject({ branch: 'ccc/12-add-a-health-endpoint', base: 'main' });
    expect(task.result.turns).toBeGreaterThanOrEqual(2);
    expect(task.result.costUsd).toBeGreaterThan(0);
    const tools = task.events.filter((e: any) => e.kind === 'progress').map((e: any) => e.message);
    expect(tools.some((m: string) => m.startsWith('tool Write:'))).toBe(true);
    expect(tools.some((m: string) => m.startsWith('tool Bash: git status'))).toBe(true);

    // The branch is on the "GitHub" repository, with the CLI's file, and main is untouched.
    const git = (...args: string[]) => execFileSync('git', ['--git-dir', bare, ...args]).toString().trim();
    expect(git('rev-parse', 'refs/heads/ccc/12-add-a-health-endpoint')).toBe(task.result.commit);
    const files = git('show', '--name-only', '--format=', task.result.commit).split('\n');
    expect(files.some((f) => f.startsWith('server/'))).toBe(true);
    expect(git('log', '--format=%s', 'main')).toBe('The demo app');

    // The pull request closes the issue; the tracking comment links it; the label says done.
    const pulls = gh.calls.filter((c) => c.method === 'POST' && c.path === '/repos/acme/web/pulls');
    expect(pulls).toHaveLength(1);
    expect(pulls[0]!.body).toMatchObject({ head: 'ccc/12-add-a-health-endpoint', base: 'main', title: 'Add a /health endpoint' });
    expect(pulls[0]!.body.body).toMatch(/^Closes #12\n/);
    await eventually(() => [...gh.comments.values()].some((c) => c.includes('Done: pull request #7')), 10_000, 'tracking comment updated');
    expect(gh.calls.filter((c) => c.method === 'POST' && c.path === '/repos/acme/web/issues/12/comments')).toHaveLength(1);

    // No secret in any node's log.
    const secrets = [SECRET, GITHUB_TOKEN, cluster.adminToken, ...readFileSync(cluster.secretsFile, 'utf8').match(/=(.+)/g)!.map((m) => m.slice(1))];
    for (const node of cluster.nodes) {
      const log = readFileSync(node.logFile, 'utf8');
      for (const secret of secrets) expect(log.includes(secret), `${node.name} log holds a secret`).toBe(false);
    }
  });
});

/**
 * The conversation with real parts: the coordinator and agent processes, the
 * real `claude` CLI against the rehearsal model, git pushing to bare
 * repositories, and either the GitHub stand-in (signed deliveries) or the
 * local forge (the real `ccc` CLI). A follow-up adds a commit to the pull
 * request's branch and opens no second pull request.
 *
 * These depend on the agent starting a task that names `branch` from that
 * remote branch and pushing without force (the agent's git/workspaces work):
 * without it the follow-up's commit lands on a new branch and they fail.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureDemoRepo } from '../../daemons/cli/demo-repo.js';
import { startLocalCluster } from '../../daemons/cli/local-cluster.js';
import { githubStandIn } from '../github-stand-in.js';
import { SECRET, comment, deliver, openedWith } from '../github-webhooks.js';
import { api, clusterConfig, eventually, onCleanup, tempDir, writeCluster } from '../helpers.js';
import { cli } from '../cli/run-cli.js';

const GITHUB_TOKEN = 'ghp_conversationtoken_0123456789abcdef';
const BRANCH = 'ccc/12-add-a-health-endpoint';

function config() {
  return clusterConfig({
    agent: {
      drainTimeoutSeconds: 2,
      executor: { type: 'claude', maxTurns: 6, permissionMode: 'acceptEdits', allowedTools: ['Read', 'Write', 'Bash(git status:*)'], idleTimeoutSeconds: 60, timeoutSeconds: 120 },
    },
  });
}

/** The task once it succeeded and its pull request is recorded (the publisher follows the result). */
async function finished(url: string, token: string, id: number): Promise<any> {
  return eventually(async () => {
    const t = (await api(url, `/tasks/${id}`, { token })).body.task;
    if (t.state === 'failed' || t.state === 'cancelled') throw new Error(`task ${id} ${t.state}: ${t.result?.summary}`);
    return t.state === 'succeeded' && (t.pullRequest || !t.result?.commit) ? t : undefined;
  }, 120_000, `task ${id} to succeed with its pull request`);
}

describe('the conversation: issue → pull request → /ccc follow-up → a new commit on the same branch', { timeout: 180_000 }, () => {
  it('on GitHub (stand-in): a /ccc comment on the pull request adds a commit; a new run of the issue reuses the open pull request', async () => {
    const dir = tempDir('ccc-conversation-');
    const gh = await githubStandIn();
    const remote = join(dir, 'github');
    const bare = ensureDemoRepo(remote, 'acme/web');
    const git = (...args: string[]) => execFileSync('git', ['--git-dir', bare, ...args]).toString().trim();
    const cluster = await startLocalCluster({
      configFile: writeCluster(dir, config()), dataDir: join(dir, 'state'), port: 0,
      coordinatorEnv: { CCC_WEBHOOK_SECRET: SECRET, CCC_GITHUB_TOKEN: GITHUB_TOKEN, CCC_GITHUB_API_URL: gh.url },
      agentEnv: { CCC_GIT_URL_TEMPLATE: `file://${remote}/{owner}/{repo}.git` },
    });
    onCleanup(() => cluster.stop());
    const token = cluster.adminToken;

    const issue = openedWith(['ccc', 'ccc:backend']);
    issue.repository.full_name = 'acme/web';
    issue.issue.number = 12;
    issue.issue.title = 'Add a /health endpoint';
    issue.issue.author_association = 'OWNER';
    const first = await finished(cluster.url, token, (await deliver(cluster.url, issue)).body.task.id);
    expect(first.pullRequest).toMatchObject({ number: 7 });
    const firstCommit = git('rev-parse', `refs/heads/${BRANCH}`);

    // A /ccc comment on the pull request: a follow-up task on its branch.
    const followUp = comment('/ccc also log each request', 'OWNER') as any;
    followUp.repository.full_name = 'acme/web';
    followUp.issue.number = 7;
    followUp.issue.pull_request = { url: 'https://api.github.example/repos/acme/web/pulls/7' };
    const asked = await deliver(cluster.url, followUp, { event: 'issue_comment' });
    expect(asked.status).toBe(201);
    const second = await finished(cluster.url, token, asked.body.task.id);
    expect(second).toMatchObject({ specialty: 'backend', agentId: 'backend', branch: BRANCH, pullRequest: { number: 7 } });
    expect(second.result.branch).toBe(BRANCH);
    const secondCommit = git('rev-parse', `refs/heads/${BRANCH}`);
    expect(secondCommit).toBe(second.result.commit);
    expect(git('rev-parse', `${secondCommit}^`)).toBe(firstCommit); // added on top, nothing rewritten
    expect(gh.calls.filter((c) => c.method === 'POST' && c.path === '/repos/acme/web/pulls')).toHaveLength(1);
    await eventually(() => [...gh.comments.values()].some((c) => c.includes(`to pull request #7`)), 20_000, 'the follow-up comment on the pull request');

    // A new run of the issue while its pull request is open: more commits, the same pull request.
    const rerun = comment('/ccc run', 'OWNER');
    rerun.repository.full_name = 'acme/web';
    rerun.issue.number = 12;
    rerun.issue.title = 'Add a /health endpoint with its version';
    const third = await finished(cluster.url, token, (await deliver(cluster.url, rerun, { event: 'issue_comment' })).body.task.id);
    expect(third.pullRequest).toMatchObject({ number: 7 });
    expect(git('merge-base', '--is-ancestor', secondCommit, `refs/heads/${BRANCH}`)).toBe('');
    expect(gh.calls.filter((c) => c.method === 'POST' && c.path === '/repos/acme/web/pulls')).toHaveLength(1);
  });

  it('on the local forge: `ccc comment <n> "/ccc …"` adds a commit to the pull request; `ccc pull <n> --diff` shows both', async () => {
    const dir = tempDir('ccc-conversation-local-');
    const cluster = await startLocalCluster({ configFile: writeCluster(dir, config()), dataDir: join(dir, 'state'), port: 0 });
    onCleanup(() => cluster.stop());
    const env = { CCC_COORDINATOR_URL: cluster.url, CCC_ADMIN_TOKEN: cluster.adminToken, CCC_DATA_DIR: join(dir, 'cli') };
    const submitted = await cli(['submit', '--title', 'Add a /health endpoint', '--label', 'ccc:backend', '--repo', 'demo/app', '--json'], env);
    expect(submitted.code, submitted.stderr).toBe(0);
    const first = await finished(cluster.url, cluster.adminToken, JSON.parse(submitted.stdout).task.id);
    const number = first.pullRequest.number as number;
    expect(first.pullRequest.url).toBe(`${cluster.url}/pulls/${number}`); // the dashboard's page, not the admin API
    const branch = first.result.branch as string;

    const commented = await cli(['comment', String(number), '/ccc also log each request', '--json'], env);
    expect(commented.code, commented.stderr).toBe(0);
    const asked = JSON.parse(commented.stdout);
    expect(asked.outcome).toBe('task-created');
    const second = await finished(cluster.url, cluster.adminToken, asked.task.id);
    expect(second).toMatchObject({ branch, pullRequest: { number } });
    expect(second.result.branch).toBe(branch);

    const pulls = JSON.parse((await cli(['pulls', '--json'], env)).stdout).pulls;
    expect(pulls).toHaveLength(1);
    const shown = JSON.parse((await cli(['pull', String(number), '--json'], env)).stdout).pull;
    expect(shown.commits.map((c: any) => c.sha)).toEqual([second.result.commit, first.result.commit]);
    expect(shown.comments.map((c: any) => c.author)).toEqual(['operator', 'claude-code-cluster']);
    const diff = await cli(['pull', String(number), '--diff'], env);
    expect(diff.stdout).toContain('server/add_a_health_endpoint.py');
    expect(diff.stdout).toContain('server/follow_up_on_1_add_a_health_endpoint.py'.replace('_1_', `_${number}_`));
  });
});

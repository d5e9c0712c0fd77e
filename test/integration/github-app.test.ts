/**
 * The GitHub App path with real parts: a signed delivery from installation 9001, the coordinator
 * authenticating as the App (@octokit/auth-app, JWT checked with the App's public key by the
 * stand-in), a push token minted for the task's one repository with contents: write only, the
 * real CLI on the backend agent, git pushing over smart HTTP with that token (and nothing else
 * accepted), the token revoked when the task ends and never seen in a log or in the task's output.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureDemoRepo } from '../../daemons/cli/demo-repo.js';
import { startLocalCluster } from '../../daemons/cli/local-cluster.js';
import { makeStandInApp } from '../github-app-routes.js';
import { githubStandIn } from '../github-stand-in.js';
import { SECRET, deliver, openedWith } from '../github-webhooks.js';
import { api, clusterConfig, eventually, onCleanup, tempDir, writeCluster } from '../helpers.js';

const execFileAsync = promisify(execFile);

describe('GitHub App', () => {
  it('mints a push token per task for that repository only, pushes with it, revokes it at the end and never shows it', async () => {
    const dir = tempDir('ccc-app-');
    const remote = join(dir, 'github');
    const bare = ensureDemoRepo(remote, 'acme/web');
    ensureDemoRepo(remote, 'acme/other');
    const app = makeStandInApp();
    const gh = await githubStandIn({ app, gitRoot: remote });
    const keyFile = join(dir, 'app.pem');
    writeFileSync(keyFile, app.privateKey, { mode: 0o600 });
    const config = clusterConfig({
      agent: {
        drainTimeoutSeconds: 2,
        executor: { type: 'claude', maxTurns: 6, permissionMode: 'acceptEdits', allowedTools: ['Read', 'Write', 'Bash(git status:*)'], idleTimeoutSeconds: 60, timeoutSeconds: 120 },
      },
    });
    const cluster = await startLocalCluster({
      configFile: writeCluster(dir, config), dataDir: join(dir, 'state'), port: 0,
      coordinatorEnv: { CCC_WEBHOOK_SECRET: SECRET, CCC_GITHUB_APP_ID: String(app.appId), CCC_GITHUB_APP_PRIVATE_KEY_FILE: keyFile, CCC_GITHUB_API_URL: gh.url },
      agentEnv: { CCC_GIT_URL_TEMPLATE: `${gh.url}/git/{owner}/{repo}.git` },
    });
    onCleanup(() => cluster.stop());

    const payload = openedWith(['ccc', 'ccc:backend']) as any;
    payload.repository.full_name = 'acme/web';
    payload.installation = { id: app.installationId, node_id: 'MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uOTAwMQ==' };
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

    // One push token for the one attempt: this repository, contents: write, nothing more.
    const mints = gh.calls.filter((c) => c.method === 'POST' && c.path === `/app/installations/${app.installationId}/access_tokens`);
    const pushTokens = app.tokens.filter((t) => t.repositories !== null);
    expect(pushTokens).toHaveLength(1);
    expect(pushTokens[0]).toMatchObject({ repositories: ['web'], permissions: { contents: 'write' } });
    expect(mints.some((c) => c.body?.repositories?.[0] === 'web' && JSON.stringify(c.body.permissions) === '{"contents":"write"}')).toBe(true);
    expect(app.refusedJwts).toEqual([]);
    const push = pushTokens[0]!;

    // The branch reached "GitHub" over smart HTTP, and only that token could have pushed it.
    const git = (...args: string[]) => execFileSync('git', ['--git-dir', bare, ...args]).toString().trim();
    expect(git('rev-parse', 'refs/heads/ccc/12-add-a-health-endpoint')).toBe(task.result.commit);
    const receives = gh.calls.filter((c) => c.path === '/git/acme/web.git/git-receive-pack');
    expect(receives.length).toBeGreaterThan(0);
    for (const r of receives) expect(Buffer.from(r.auth!.replace(/^Basic /, ''), 'base64').toString()).toBe(`x-access-token:${push.token}`);

    // Revoked when the task ended; the forge's own calls used an installation token, never the push token.
    await eventually(() => push.revokedAt !== null, 10_000, 'the push token revoked');
    expect(gh.calls.some((c) => c.method === 'DELETE' && c.path === '/installation/token' && c.auth === `token ${push.token}`)).toBe(true);
    const forgeCalls = gh.calls.filter((c) => c.path.startsWith('/repos/acme/web/') && !c.path.endsWith('/installation'));
    expect(forgeCalls.length).toBeGreaterThan(0);
    for (const c of forgeCalls) {
      expect(c.auth).not.toBe(`token ${push.token}`);
      expect(app.tokens.find((t) => `token ${t.token}` === c.auth)?.repositories).toBeNull();
    }
    const pulls = gh.calls.filter((c) => c.method === 'POST' && c.path === '/repos/acme/web/pulls');
    expect(pulls).toHaveLength(1);

    // A revoked token pushes nothing, and a push token never reached another repository.
    // (async: the stand-in serves git from this very process)
    const pushWith = (token: string, repo: string) => execFileAsync('git', ['push', '--quiet', `http://x-access-token:${token}@${gh.url.slice('http://'.length)}/git/${repo}.git`, 'refs/heads/main:refs/heads/stolen'],
      { cwd: bare, env: { PATH: process.env.PATH, HOME: dir, GIT_TERMINAL_PROMPT: '0' } });
    await expect(pushWith(push.token, 'acme/web')).rejects.toThrow(/Authentication failed|401/);
    const other = app.tokens.find((t) => t.repositories === null)!; // an installation token, but it was never handed to an agent
    expect(other.token).not.toBe(push.token);
    expect(() => git('rev-parse', '--verify', 'refs/heads/stolen')).toThrow();

    // The token is nowhere: not in any node's log, not in the task's events or result.
    const shown = JSON.stringify(task);
    for (const t of app.tokens) {
      expect(shown.includes(t.token)).toBe(false);
      for (const node of cluster.nodes) expect(readFileSync(node.logFile, 'utf8').includes(t.token), `${node.name} log holds a token`).toBe(false);
    }
    for (const node of cluster.nodes) expect(readFileSync(node.logFile, 'utf8')).not.toContain(app.privateKey.split('\n')[5]!);
  });
});

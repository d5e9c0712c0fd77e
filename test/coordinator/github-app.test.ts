import { execFile } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ensureDemoRepo } from '../../daemons/cli/demo-repo.js';
import { GitHubApp } from '../../daemons/coordinator/github/github-app.js';
import { GitHubForge } from '../../daemons/coordinator/github-forge.js';
import { loadSettings, secretValues } from '../../daemons/shared/config.js';
import { makeStandInApp } from '../github-app-routes.js';
import { githubStandIn } from '../github-stand-in.js';
import { RawAgent, SPECIALTIES, api, eventually, memoryLogger, startTestCoordinator, tempDir, testEnv } from '../helpers.js';

const execFileAsync = promisify(execFile);

describe('GitHub App authentication against the stand-in', () => {
  it('mints a push token for one repository with contents: write that can push there and nowhere else, then revokes it', async () => {
    const dir = tempDir();
    const root = join(dir, 'github');
    const web = ensureDemoRepo(root, 'acme/web');
    ensureDemoRepo(root, 'acme/other');
    const standIn = makeStandInApp();
    const gh = await githubStandIn({ app: standIn, gitRoot: root });
    const app = new GitHubApp({ appId: standIn.appId, privateKey: standIn.privateKey, keyFile: 'x' }, gh.url);

    expect(await app.installationOf('acme/web')).toBe(standIn.installationId);
    const push = await app.mintPushToken(standIn.installationId, 'acme/web');
    const mint = gh.calls.find((c) => c.path === `/app/installations/${standIn.installationId}/access_tokens`)!;
    expect(mint.body).toEqual({ repositories: ['web'], permissions: { contents: 'write' } });
    expect(mint.auth).toMatch(/^bearer ey/); // the App's JWT, checked with its public key
    expect(standIn.refusedJwts).toEqual([]);

    const pushTo = (repo: string, token: string, ref: string) => execFileAsync('git', ['push', '--quiet', `http://x-access-token:${token}@${gh.url.slice(7)}/git/${repo}.git`, `refs/heads/main:refs/heads/${ref}`],
      { cwd: web, env: { PATH: process.env.PATH, HOME: dir, GIT_TERMINAL_PROMPT: '0' } });
    await pushTo('acme/web', push.token, 'allowed');
    await expect(pushTo('acme/other', push.token, 'elsewhere')).rejects.toThrow(/Authentication failed|401/);
    // Nor can it write issues: contents only.
    const comment = await fetch(`${gh.url}/repos/acme/web/issues/1/comments`, { method: 'POST', headers: { authorization: `token ${push.token}`, 'content-type': 'application/json' }, body: '{"body":"x"}' });
    expect(comment.status).toBe(403);

    await app.revoke(push.token);
    expect(standIn.tokens.find((t) => t.token === push.token)!.revokedAt).not.toBeNull();
    await expect(pushTo('acme/web', push.token, 'after')).rejects.toThrow(/Authentication failed|401/);

    // Two tasks on one repository get two different tokens: revoking one leaves the other working.
    const a = await app.mintPushToken(standIn.installationId, 'acme/web');
    const b = await app.mintPushToken(standIn.installationId, 'acme/web');
    expect(a.token).not.toBe(b.token);
    await app.revoke(a.token);
    await pushTo('acme/web', b.token, 'second');
  });

  it('gives the forge a cached installation token per repository', async () => {
    const standIn = makeStandInApp();
    const gh = await githubStandIn({ app: standIn });
    const app = new GitHubApp({ appId: standIn.appId, privateKey: standIn.privateKey, keyFile: 'x' }, gh.url);
    const { log } = memoryLogger();
    const forge = new GitHubForge({ tokenFor: async () => app.installationToken(standIn.installationId), baseUrl: gh.url, log, writeSpacingMs: 0 });
    const id = await forge.upsertComment('acme/web', 3, 'one', null);
    await forge.upsertComment('acme/web', 3, 'two', id);
    expect(gh.calls.filter((c) => c.path.endsWith('/access_tokens'))).toHaveLength(1);
    const auths = gh.calls.filter((c) => c.path.startsWith('/repos/')).map((c) => c.auth);
    expect(new Set(auths)).toEqual(new Set([`token ${standIn.tokens[0]!.token}`]));
  });

  it('is refused by GitHub when the key is not the App\'s', async () => {
    const standIn = makeStandInApp();
    const impostor = makeStandInApp();
    const gh = await githubStandIn({ app: standIn });
    const app = new GitHubApp({ appId: standIn.appId, privateKey: impostor.privateKey, keyFile: 'x' }, gh.url);
    await expect(app.mintPushToken(standIn.installationId, 'acme/web')).rejects.toThrow();
    expect(standIn.refusedJwts).toEqual(['bad signature']);
    expect(standIn.tokens).toEqual([]);
  });
});

describe('GitHub App in the coordinator', () => {
  it('hands no task out without its push token: a refused App fails the task with the reason, never assigning it', async () => {
    const dir = tempDir();
    const standIn = makeStandInApp();
    const gh = await githubStandIn({ app: standIn });
    const key = join(dir, 'wrong.pem');
    writeFileSync(key, makeStandInApp().privateKey, { mode: 0o600 }); // not the App's key
    const c = await startTestCoordinator({ ...testEnv(dir), CCC_GITHUB_APP_ID: String(standIn.appId), CCC_GITHUB_APP_PRIVATE_KEY_FILE: key, CCC_GITHUB_API_URL: gh.url });
    const agent = await RawAgent.connect(c.url);
    await agent.hello('backend', SPECIALTIES.backend!);
    const { body } = await api(c.url, '/tasks', { body: { title: 'push me', labels: ['ccc:backend'], repo: 'acme/web' } });
    const task = await eventually(async () => {
      const t = (await api(c.url, `/tasks/${body.task.id}`)).body.task;
      return t.state === 'failed' ? t : undefined;
    }, 15_000, 'the task to fail');
    expect(task.result.summary).toMatch(/^no push token for acme\/web: .* on the last attempt$/);
    expect(task.events.filter((e: any) => e.kind === 'requeued')).toHaveLength(2);
    expect(agent.received.filter((m) => m.type === 'task.assign')).toEqual([]);
    expect(standIn.refusedJwts.length).toBeGreaterThan(0);
    expect(standIn.tokens).toEqual([]);
  });
});

describe('GitHub App configuration', () => {
  const settings = (extra: Record<string, string>) => loadSettings({ ...testEnv(tempDir()), ...extra }, 'coordinator');

  it('reads the key file once and gives the logger its lines to scrub', () => {
    const dir = tempDir();
    const key = join(dir, 'app.pem');
    writeFileSync(key, makeStandInApp().privateKey, { mode: 0o600 });
    const s = settings({ CCC_GITHUB_APP_ID: '4242', CCC_GITHUB_APP_PRIVATE_KEY_FILE: key });
    expect(s.githubApp).toMatchObject({ appId: 4242, keyFile: key });
    const body = s.githubApp!.privateKey.split('\n')[3]!;
    expect(secretValues(s)).toContain(body);
  });

  it('names the variable and says what to do when the key is missing, unreadable or not a PEM key', () => {
    const dir = tempDir();
    expect(() => settings({ CCC_GITHUB_APP_ID: '4242', CCC_GITHUB_APP_PRIVATE_KEY_FILE: join(dir, 'nope.pem') }))
      .toThrow(/CCC_GITHUB_APP_PRIVATE_KEY_FILE=.*nope\.pem cannot be read \(ENOENT\): give the path of the \.pem file/);
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'ghp_thisisatokennotakey\n');
    expect(() => settings({ CCC_GITHUB_APP_ID: '4242', CCC_GITHUB_APP_PRIVATE_KEY_FILE: garbage })).toThrow(/CCC_GITHUB_APP_PRIVATE_KEY_FILE=.*garbage\.pem is not a PEM private key/);
    const broken = join(dir, 'broken.pem');
    writeFileSync(broken, '-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n');
    expect(() => settings({ CCC_GITHUB_APP_ID: '4242', CCC_GITHUB_APP_PRIVATE_KEY_FILE: broken })).toThrow(/is not a PEM private key/);
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked.pem');
      writeFileSync(locked, makeStandInApp().privateKey);
      chmodSync(locked, 0);
      expect(() => settings({ CCC_GITHUB_APP_ID: '4242', CCC_GITHUB_APP_PRIVATE_KEY_FILE: locked })).toThrow(/cannot be read \(EACCES\)/);
    }
    expect(() => settings({ CCC_GITHUB_APP_PRIVATE_KEY_FILE: garbage })).toThrow(/CCC_GITHUB_APP_ID is not/);
    expect(() => settings({ CCC_GITHUB_APP_ID: '4242' })).toThrow(/CCC_GITHUB_APP_PRIVATE_KEY_FILE is not/);
    expect(() => settings({ CCC_GITHUB_APP_ID: 'my-app', CCC_GITHUB_APP_PRIVATE_KEY_FILE: garbage })).toThrow(/CCC_GITHUB_APP_ID must be the App's numeric ID/);
  });
});

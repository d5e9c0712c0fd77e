/**
 * The local forge over git's smart HTTP (/git/…): the agent's real Workspaces clone and push
 * through it with the agent token from the credential helper; everything else is refused.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { gitEnv } from '../../daemons/agent/executor-factory.js';
import { Workspaces } from '../../daemons/agent/git/workspaces.js';
import { ensureDemoRepo } from '../../daemons/cli/demo-repo.js';
import { presentedToken } from '../../daemons/coordinator/git-http.js';
import { AGENT_TOKEN, memoryLogger, startTestCoordinator, tempDir, testEnv } from '../helpers.js';

const run = promisify(execFile);
const basic = (user: string, token: string) => `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;

async function forge() {
  const dir = tempDir('ccc-git-http-');
  const coordinator = await startTestCoordinator(testEnv(dir));
  const bare = ensureDemoRepo(coordinator.localForge.root);
  const workspaces = (token: string | undefined) => new Workspaces({
    root: join(dir, `agent-${token ? 'token' : 'none'}`, 'workspaces'),
    gitUrlTemplate: `${coordinator.url}/git/{owner}/{repo}.git`,
    author: { name: 'ccc agent', email: 'ccc-agent@localhost' },
    gitEnv: gitEnv({ PATH: process.env.PATH, HOME: dir }, token),
    keepFailedMs: 60_000,
    log: memoryLogger().log,
  });
  return { dir, coordinator, bare, workspaces };
}

describe('presentedToken', () => {
  it('reads the password of Basic auth (any user name) or a bearer token', () => {
    expect(presentedToken(basic('x-access-token', 'secret:with:colons'))).toBe('secret:with:colons');
    expect(presentedToken('Bearer abc')).toBe('abc');
    expect(presentedToken(`Basic ${Buffer.from('no-colon').toString('base64')}`)).toBeUndefined();
    expect(presentedToken(undefined)).toBeUndefined();
  });
});

describe('git over HTTP from the local forge', () => {
  it('an agent clones demo/app and pushes its task branch with the agent token', async () => {
    const { bare, workspaces } = await forge();
    const ws = workspaces(AGENT_TOKEN);
    const task = { taskId: 7, attempt: 1, repo: 'demo/app', issueNumber: 3, title: 'Add a health endpoint' };
    const w = await ws.prepare(task);
    expect(w.base).toBe('main');
    await run('sh', ['-c', 'echo ok > health.txt'], { cwd: w.dir });
    const commit = (await ws.publish(w, 'Add a health endpoint'))!.commit;
    const { stdout } = await run('git', ['--git-dir', bare, 'rev-parse', 'refs/heads/ccc/3-add-a-health-endpoint']);
    expect(stdout.trim()).toBe(commit);
    // A second attempt fetches again through the same route, continues the branch and pushes a fast-forward.
    const w2 = await ws.prepare({ ...task, attempt: 2 });
    expect(w2).toMatchObject({ continued: true, start: commit });
    await run('sh', ['-c', 'echo better > health.txt'], { cwd: w2.dir });
    const commit2 = (await ws.publish(w2, 'Add a health endpoint, again'))!.commit;
    expect((await run('git', ['--git-dir', bare, 'rev-parse', 'refs/heads/ccc/3-add-a-health-endpoint'])).stdout.trim()).toBe(commit2);
    expect((await run('git', ['--git-dir', bare, 'rev-parse', `${commit2}^`])).stdout.trim()).toBe(commit);
  });

  it('refuses a clone without the token, and one with a wrong token', async () => {
    const { workspaces, coordinator } = await forge();
    await expect(workspaces(undefined).prepare({ taskId: 1, attempt: 1, repo: 'demo/app', issueNumber: null, title: 't' })).rejects.toThrow(/Authentication failed|could not read Username|401/);
    const wrong = await fetch(`${coordinator.url}/git/demo/app.git/info/refs?service=git-upload-pack`, { headers: { authorization: basic('x', 'wrong-token-0123456789') } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic /);
  });

  it('serves only the smart protocol, only for forge repositories', async () => {
    const { coordinator } = await forge();
    const get = (path: string, method = 'GET') => fetch(`${coordinator.url}/git${path}`, { method, headers: { authorization: basic('x-access-token', AGENT_TOKEN) } });
    const refs = await get('/demo/app.git/info/refs?service=git-upload-pack');
    expect(refs.status).toBe(200);
    expect(refs.headers.get('content-type')).toBe('application/x-git-upload-pack-advertisement');
    expect(await refs.text()).toContain('refs/heads/main');
    expect((await get('/demo/app.git/info/refs')).status).toBe(403); // the dumb protocol
    expect((await get('/demo/app.git/HEAD')).status).toBe(404);
    expect((await get('/demo/app.git/objects/info/packs')).status).toBe(404);
    expect((await get('/demo/app.git/git-upload-pack')).status).toBe(405);
    expect((await get('/demo/nope.git/info/refs?service=git-upload-pack')).status).toBe(404);
    expect((await get('/../coordinator.git/info/refs?service=git-upload-pack')).status).toBe(404);
    expect((await get('/demo/%2e%2e.git/info/refs?service=git-upload-pack')).status).toBe(404);
    expect((await get('/-x/app.git/info/refs?service=git-upload-pack')).status).toBe(404);
  });
});

/**
 * The local forge over git's smart HTTP (/git/…): the agent's real Workspaces clone and push
 * through it with the agent's own credential from the credential helper; a push of a branch that
 * is not one of its tasks', a push with another agent's or no credential, and everything else is refused.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { gitEnv } from '../../daemons/agent/executor-factory.js';
import { Workspaces } from '../../daemons/agent/git/workspaces.js';
import { ensureDemoRepo } from '../../daemons/cli/demo-repo.js';
import { presentedToken } from '../../daemons/coordinator/git-http.js';
import { AGENT_TOKEN, RawAgent, SPECIALTIES, api, memoryLogger, onCleanup, startTestCoordinator, tempDir, testEnv } from '../helpers.js';

const run = promisify(execFile);
const basic = (user: string, token: string) => `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;

async function forge() {
  const dir = tempDir('ccc-git-http-');
  const coordinator = await startTestCoordinator(testEnv(dir));
  const bare = ensureDemoRepo(coordinator.localForge.root);
  /** Enrolls `id` and returns the credential it was issued. */
  const enroll = async (id: string) => {
    const agent = await RawAgent.connect(coordinator.url);
    const welcome = await agent.hello(id, SPECIALTIES[id]!);
    const beat = setInterval(() => agent.send({ type: 'heartbeat' }), 300); // keeps its tasks' leases (2 s in tests)
    onCleanup(() => clearInterval(beat));
    return { agent, credential: welcome.credential! };
  };
  const workspaces = (name: string, env: Record<string, string>) => new Workspaces({
    root: join(dir, `agent-${name}`, 'workspaces'),
    gitUrlTemplate: `${coordinator.url}/git/{owner}/{repo}.git`,
    author: { name: 'ccc agent', email: 'ccc-agent@localhost' },
    gitEnv: env,
    keepFailedMs: 60_000,
    log: memoryLogger().log,
  });
  return { dir, coordinator, bare, enroll, workspaces };
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
  it('an agent clones demo/app and pushes the branch of its task with its own credential (read from its file)', async () => {
    const { dir, coordinator, bare, enroll, workspaces } = await forge();
    const { agent, credential } = await enroll('backend');
    const credentialFile = join(dir, 'agent-credential');
    writeFileSync(credentialFile, `${credential}\n`, { mode: 0o600 });
    const id = (await api(coordinator.url, '/tasks', { body: { title: 'Add a health endpoint', labels: ['ccc:backend'], repo: 'demo/app' } })).body.task.id as number;
    await agent.next('task.assign');
    const ws = workspaces('backend', gitEnv({ PATH: process.env.PATH, HOME: dir }, undefined, credentialFile));
    const task = { taskId: id, attempt: 1, repo: 'demo/app', issueNumber: null, title: 'Add a health endpoint' };
    const w = await ws.prepare(task);
    expect(w.base).toBe('main');
    await run('sh', ['-c', 'echo ok > health.txt'], { cwd: w.dir });
    const commit = (await ws.publish(w, 'Add a health endpoint'))!.commit;
    const { stdout } = await run('git', ['--git-dir', bare, 'rev-parse', `refs/heads/ccc/${id}-add-a-health-endpoint`]);
    expect(stdout.trim()).toBe(commit);
    // A second attempt fetches again through the same route, continues the branch and pushes a fast-forward.
    const w2 = await ws.prepare({ ...task, attempt: 2 });
    expect(w2).toMatchObject({ continued: true, start: commit });
    await run('sh', ['-c', 'echo better > health.txt'], { cwd: w2.dir });
    const commit2 = (await ws.publish(w2, 'Add a health endpoint, again'))!.commit;
    expect((await run('git', ['--git-dir', bare, 'rev-parse', `refs/heads/ccc/${id}-add-a-health-endpoint`])).stdout.trim()).toBe(commit2);
    expect((await run('git', ['--git-dir', bare, 'rev-parse', `${commit2}^`])).stdout.trim()).toBe(commit);
  });

  it('refuses a push of a branch that is not one of the agent\'s tasks, and of another agent\'s task', async () => {
    const { dir, coordinator, bare, enroll, workspaces } = await forge();
    const backend = await enroll('backend');
    const frontend = await enroll('frontend');
    const id = (await api(coordinator.url, '/tasks', { body: { title: 'Backend work', labels: ['ccc:backend'], repo: 'demo/app' } })).body.task.id as number;
    await backend.agent.next('task.assign');
    const mainBefore = (await run('git', ['--git-dir', bare, 'rev-parse', 'refs/heads/main'])).stdout.trim();
    // The frontend agent (held no task) tries to push the backend task's branch, then main.
    const ws = workspaces('frontend', gitEnv({ PATH: process.env.PATH, HOME: dir }, frontend.credential));
    const w = await ws.prepare({ taskId: id, attempt: 1, repo: 'demo/app', issueNumber: null, title: 'Backend work' });
    await run('sh', ['-c', 'echo x > x.txt'], { cwd: w.dir });
    await expect(ws.publish(w, 'not mine')).rejects.toThrow(/403/);
    const env = { ...gitEnv({ PATH: process.env.PATH, HOME: dir }, backend.credential), GIT_TERMINAL_PROMPT: '0' };
    const url = `${coordinator.url}/git/demo/app.git`;
    // A commit of its own in the task directory's repository (HEAD is still main's there), so each push below changes a ref.
    await run('git', ['-c', 'user.name=x', '-c', 'user.email=x@localhost', 'commit', '--quiet', '--allow-empty', '-m', 'not mine either'], { cwd: w.dir, env });
    await expect(run('git', ['push', '--force', url, 'HEAD:refs/heads/main'], { cwd: w.dir, env })).rejects.toThrow(/403/);
    await expect(run('git', ['push', '--force', url, `HEAD:refs/heads/ccc/${id + 1}-other`], { cwd: w.dir, env })).rejects.toThrow(/403/);
    await expect(run('git', ['push', '--force', url, 'HEAD:refs/tags/v1'], { cwd: w.dir, env })).rejects.toThrow(/403/);
    expect((await run('git', ['--git-dir', bare, 'rev-parse', 'refs/heads/main'])).stdout.trim()).toBe(mainBefore);
    expect((await run('git', ['--git-dir', bare, 'for-each-ref', '--format=%(refname)'])).stdout.trim()).toBe('refs/heads/main');
    expect(coordinator.lines.some((l) => l.includes('push refused'))).toBe(true);
    // The same push with the backend agent's credential goes through.
    await run('git', ['push', '--force', url, `HEAD:refs/heads/ccc/${id}-backend-work`], { cwd: w.dir, env });
  });

  it('refuses a clone without a credential, with the join token, and with a wrong one', async () => {
    const { workspaces, coordinator, dir } = await forge();
    const none = workspaces('none', { ...gitEnv({ PATH: process.env.PATH, HOME: dir }, undefined), GIT_TERMINAL_PROMPT: '0' });
    await expect(none.prepare({ taskId: 1, attempt: 1, repo: 'demo/app', issueNumber: null, title: 't' })).rejects.toThrow(/Authentication failed|could not read Username|401/);
    for (const token of ['wrong-token-0123456789', AGENT_TOKEN]) {
      const wrong = await fetch(`${coordinator.url}/git/demo/app.git/info/refs?service=git-upload-pack`, { headers: { authorization: basic('x', token) } });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic /);
    }
  });

  it('serves only the smart protocol, only for forge repositories', async () => {
    const { coordinator, enroll } = await forge();
    const { credential } = await enroll('backend');
    const get = (path: string, method = 'GET') => fetch(`${coordinator.url}/git${path}`, { method, headers: { authorization: basic('x-access-token', credential) } });
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

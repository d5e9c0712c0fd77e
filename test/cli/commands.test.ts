/** ccc status, agents, tasks, submit, cancel, retry, drain and resume: the built CLI against a real coordinator. */
import { describe, expect, it } from 'vitest';
import { createServer as createNetServer, connect, type AddressInfo } from 'node:net';
import { api, eventually, onCleanup, SPECIALTIES } from '../helpers.js';
import { cli, cliSetup, liveAgent } from './run-cli.js';

/** Every line of a table fits 80 columns. */
function expectNarrow(text: string) {
  for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
}

describe('ccc agents', () => {
  it('lists the agents as a table and as JSON', async () => {
    const { url, env } = await cliSetup();
    const none = await cli(['agents'], env);
    expect(none).toMatchObject({ code: 0, stdout: 'no agent has registered yet\n', stderr: '' });

    await liveAgent(url, 'backend', SPECIALTIES.backend!);
    await liveAgent(url, 'frontend', SPECIALTIES.frontend!);

    const table = await cli(['agents'], env);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^AGENT\s+STATE\s+LOAD\s+SPECIALTIES\s+ADDRESS\s+SEEN\s+ENROLLED\s+CRED USED$/);
    expect(lines[1]).toMatch(/^backend\s+online\s+0\/2\s+backend,\S+\s+127\.0\.0\.1\s+\d+s ago\s+\d+s ago\s+\d+s ago$/);
    expect(lines[2]).toMatch(/^frontend\s+online\s+0\/2\s+frontend,\S+\s+127\.0\.0\.1\s+\d+s ago\s+\d+s ago\s+\d+s ago$/);
    expectNarrow(table.stdout);

    const json = await cli(['agents', '--json'], env);
    expect(json.code).toBe(0);
    const body = JSON.parse(json.stdout);
    expect(body.agents.map((a: any) => [a.id, a.state, a.capacity, a.enrollment.enrolled])).toEqual([['backend', 'online', 2, true], ['frontend', 'online', 2, true]]);
  });
});

describe('ccc submit and ccc tasks', () => {
  it('submits a task and prints its id and route reason; --json prints the task', async () => {
    const { env } = await cliSetup();
    const text = await cli(['submit', '--title', 'Add a health endpoint', '--label', 'ccc:backend', '--label', 'api', '--repo', 'demo/app'], env);
    expect(text).toMatchObject({ code: 0, stderr: '' });
    expect(text.stdout).toBe('task 1 submitted (queued, specialty backend)\nroute: label ccc:backend → backend; waiting for an agent\n');

    const json = await cli(['submit', '--title', 'Tidy the README', '--body', 'nothing technical', '--specialty', 'docs', '--json'], env);
    expect(json.code).toBe(0);
    const { task } = JSON.parse(json.stdout);
    expect(task).toMatchObject({ id: 2, state: 'queued', title: 'Tidy the README', body: 'nothing technical', specialty: 'docs', labels: [] });
    expect(task.routeReason).toContain('docs');
  });

  it('retries with the same Idempotency-Key when the answer is lost, and so creates one task', async () => {
    const { url, env } = await cliSetup();
    // A proxy that delivers the first request but cuts the connection before its answer, as a crash would.
    const upstream = new URL(url);
    let connections = 0;
    const proxy = createNetServer((client) => {
      const first = ++connections === 1;
      const server = connect(Number(upstream.port), upstream.hostname);
      client.pipe(server);
      server.on('data', (chunk) => (first ? client.destroy() : client.write(chunk)));
      server.on('end', () => client.end());
      client.on('error', () => server.destroy());
      server.on('error', () => client.destroy());
      client.on('close', () => server.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
    const proxied = { ...env, CCC_COORDINATOR_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` };
    const r = await cli(['submit', '--title', 'Add a health endpoint'], proxied);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain('task 1 submitted');
    expect(connections).toBeGreaterThanOrEqual(2);
    expect((await api(url, '/tasks')).body.tasks).toHaveLength(1);
  });

  it('reads the body from a file or stdin', async () => {
    const { url, env } = await cliSetup();
    const res = await cli(['submit', '--title', 'From stdin', '--body-file', '-'], env, 'line one\nline two\n');
    expect(res.code).toBe(0);
    expect((await api(url, '/tasks/1')).body.task.body).toBe('line one\nline two\n');
    const missing = await cli(['submit', '--title', 'x', '--body-file', '/nonexistent/body.md'], env);
    expect(missing).toMatchObject({ code: 2, stdout: '', stderr: 'ccc: --body-file: cannot read /nonexistent/body.md (ENOENT)\n' });
  });

  it('prints the server\'s validation message and exits 1', async () => {
    const { env } = await cliSetup();
    const res = await cli(['submit', '--title', ' ', '--repo', 'not a repo'], env);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe('ccc: invalid task: title: is required; repo: must be owner/name, e.g. acme/web (letters, digits, "-", "_", ".")\n');
  });

  it('lists tasks newest first, filtered by state and agent, as a table and as JSON', async () => {
    const { url, env } = await cliSetup();
    const agent = await liveAgent(url, 'backend', SPECIALTIES.backend!);
    for (const title of ['First task', 'Second task', `A third task with a title far too long to fit in eighty columns of a terminal window`]) {
      await api(url, '/tasks', { body: { title, labels: ['ccc:backend'] } });
    }
    await agent.next('task.assign');
    await agent.next('task.assign');

    const table = await cli(['tasks'], env);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATE\s+SPECIALTY\s+AGENT\s+TRY\s+AGE\s+TITLE$/);
    expect(lines[1]).toMatch(/^ 3\s+queued\s+backend\s+-\s+0\/3\s+\d+s\s+A third task with a title far too l…$/);
    expect(lines[2]).toMatch(/^ 2\s+assigned\s+backend\s+backend\s+1\/3\s+\d+s\s+Second task$/);
    expect(lines[3]).toMatch(/^ 1\s+assigned\s+backend\s+backend\s+1\/3\s+\d+s\s+First task$/);
    expect(lines).toHaveLength(4);
    expectNarrow(table.stdout);

    const queued = await cli(['tasks', '--state', 'queued', '--json'], env);
    expect(JSON.parse(queued.stdout).tasks.map((t: any) => t.id)).toEqual([3]);
    const onBackend = await cli(['tasks', '--agent', 'backend', '--json'], env);
    expect(JSON.parse(onBackend.stdout).tasks.map((t: any) => t.id)).toEqual([2, 1]);
    const limited = await cli(['tasks', '--limit', '1'], env);
    expect(limited.stdout).toMatch(/\n 3 .*\n\(the newest 1; --limit shows more\)\n$/);
    expect(await cli(['tasks', '--state', 'failed'], env)).toMatchObject({ code: 0, stdout: 'no tasks failed\n' });
  });
});

describe('ccc status', () => {
  it('summarises agents and tasks by state and lists the running tasks', async () => {
    const { url, env } = await cliSetup();
    const agent = await liveAgent(url, 'backend', SPECIALTIES.backend!);
    await api(url, '/tasks', { body: { title: 'Runs on backend', labels: ['ccc:backend'] } });
    const assign = await agent.next('task.assign');
    agent.send({ type: 'task.started', taskId: assign.taskId, attempt: 1 });
    await api(url, '/tasks', { body: { title: 'Nobody does frontend', labels: ['ccc:frontend'] } });
    const cancelled = (await api(url, '/tasks', { body: { title: 'Never mind', labels: ['ccc:frontend'] } })).body.task.id;
    await api(url, `/tasks/${cancelled}/cancel`, { method: 'POST' });
    await eventually(async () => (await api(url, '/tasks/1')).body.task.state === 'running', 5000, 'task 1 running');

    const text = await cli(['status'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(
      `^coordinator  ${url} \\(from CCC_COORDINATOR_URL\\)\n` +
      'agents       1 online, 0 draining, 0 offline\n' +
      'tasks        1 queued, 0 assigned, 1 running, 0 succeeded, 0 failed, 1 cancelled\n' +
      '\nID  STATE    SPECIALTY  AGENT    TRY  AGE  TITLE\n' +
      ' 1  running  backend    backend  1/3 +\\d+s  Runs on backend\n$'));

    const json = JSON.parse((await cli(['status', '--json'], env)).stdout);
    expect(json).toMatchObject({
      coordinator: { url, urlSource: 'CCC_COORDINATOR_URL' },
      agents: { online: 1, draining: 0, offline: 0 },
      tasks: { queued: 1, assigned: 0, running: 1, succeeded: 0, failed: 0, cancelled: 1 },
    });
    expect(json.running.map((t: any) => t.id)).toEqual([1]);
  });

  it('says when nothing runs', async () => {
    const { env } = await cliSetup();
    const text = await cli(['status'], env);
    expect(text.stdout).toMatch(/tasks        0 queued, 0 assigned, 0 running, 0 succeeded, 0 failed, 0 cancelled\n\nno task is running\n$/);
  });
});

describe('ccc cancel, retry, drain, resume', () => {
  it('cancels and retries a task, and prints the server\'s message when the state forbids it', async () => {
    const { url, env } = await cliSetup();
    await api(url, '/tasks', { body: { title: 'Cancel me' } });
    expect(await cli(['retry', '1'], env)).toMatchObject({
      code: 1, stdout: '', stderr: 'ccc: task 1 is queued; it cannot become queued (from queued it may become assigned, cancelled)\n',
    });
    expect(await cli(['cancel', '1'], env)).toMatchObject({ code: 0, stdout: 'task 1 cancelled (ccc retry 1 queues it again)\n', stderr: '' });
    expect(await cli(['cancel', '1'], env)).toMatchObject({ code: 1, stderr: 'ccc: task 1 is cancelled; it cannot become cancelled (from cancelled it may become queued)\n' });
    expect(await cli(['retry', '1'], env)).toMatchObject({ code: 0, stdout: 'task 1 queued again: 3 more attempts (ccc logs 1 -f to follow it)\n' });
    const json = await cli(['cancel', '1', '--json'], env);
    expect(JSON.parse(json.stdout).task).toMatchObject({ id: 1, state: 'cancelled' });
  });

  it('drains and resumes an agent', async () => {
    const { url, env } = await cliSetup();
    const agent = await liveAgent(url, 'backend', SPECIALTIES.backend!);
    await api(url, '/tasks', { body: { title: 'Runs during the drain', labels: ['ccc:backend'] } });
    await agent.next('task.assign');
    expect(await cli(['drain', 'backend'], env)).toMatchObject({
      code: 0, stdout: 'agent backend draining: it takes no new tasks; 1 running task finishes there (ccc resume backend to undo)\n',
    });
    expect(JSON.parse((await cli(['agents', '--json'], env)).stdout).agents[0].state).toBe('draining');
    expect(await cli(['resume', 'backend'], env)).toMatchObject({ code: 0, stdout: 'agent backend online: it takes new tasks again\n' });
    const json = await cli(['drain', 'backend', '--json'], env);
    expect(JSON.parse(json.stdout).agent).toMatchObject({ id: 'backend', state: 'draining', running: 1 });
    expect(await cli(['drain', 'nobody'], env)).toMatchObject({ code: 1, stderr: expect.stringMatching(/^ccc: agent nobody has never registered; .*\n$/) });
  });
});

describe('ccc agents revoke and allow-enroll', () => {
  it('revokes an agent (its connection closes) and lets it enroll again', async () => {
    const { url, env } = await cliSetup();
    const agent = await liveAgent(url, 'backend', SPECIALTIES.backend!);
    const closed = new Promise<number>((resolve) => agent.ws.once('close', (code) => resolve(code)));
    const revoked = await cli(['agents', 'revoke', 'backend'], env);
    expect(revoked).toMatchObject({ code: 0, stderr: '' });
    expect(revoked.stdout).toBe('agent backend revoked: its credential no longer works; it may enroll again after ccc agents allow-enroll backend\n');
    expect(await closed).toBe(4004);
    expect((await cli(['agents'], env)).stdout).toMatch(/\nbackend\s+offline\s.*\srevoked\s+\S+ ago\n$/);
    const allowed = await cli(['agents', 'allow-enroll', 'backend', '--json'], env);
    expect(JSON.parse(allowed.stdout)).toMatchObject({ agent: 'backend', enrollment: { enrolled: false, enrollAllowed: true } });
    const unknown = await cli(['agents', 'revoke', 'nobody'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('agent nobody is neither in cluster.yml nor ever enrolled');
  });
});

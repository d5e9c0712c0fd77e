/** ccc logs: a task's history, and -f following it live to its end (also across a coordinator restart). */
import { describe, expect, it } from 'vitest';
import { RawAgent, api, eventually, startTestCoordinator, testEnv, SPECIALTIES } from '../helpers.js';
import { cli, cliSetup, liveAgent, startCli } from './run-cli.js';

const TIME = '\\d\\d:\\d\\d:\\d\\d';

/** Submits a task for backend and takes its assignment. */
async function assigned(url: string, agent: RawAgent, title = 'Add a health endpoint') {
  const id = (await api(url, '/tasks', { body: { title, labels: ['ccc:backend'] } })).body.task.id as number;
  await agent.next('task.assign');
  return id;
}

function finish(agent: RawAgent, taskId: number, outcome: 'succeeded' | 'failed', summary: string) {
  agent.send({ type: 'task.result', taskId, attempt: 1, outcome, retryable: false, summary, exitCode: outcome === 'succeeded' ? 0 : 3, durationMs: 1200 });
}

describe('ccc logs', () => {
  it('prints the history as readable lines, and as one JSON event per line', async () => {
    const { url, env } = await cliSetup();
    const agent = await liveAgent(url, 'backend', SPECIALTIES.backend!);
    const id = await assigned(url, agent);
    agent.send({ type: 'task.started', taskId: id, attempt: 1 });
    agent.send({ type: 'task.progress', taskId: id, attempt: 1, text: 'step: reading the issue' });
    finish(agent, id, 'failed', 'exit code 3: tests fail\nsee the log');
    await eventually(async () => (await api(url, `/tasks/${id}`)).body.task.state === 'failed', 5000, 'failed');

    const text = await cli(['logs', String(id)], env);
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('task 1: Add a health endpoint');
    expect(lines[1]).toMatch(/^failed on backend, attempt 1 of 3, specialty backend, created \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const body = lines.slice(2);
    expect(body[0]).toMatch(new RegExp(`^${TIME}  created      accepted: label ccc:backend → backend$`));
    expect(body[1]).toMatch(new RegExp(`^${TIME}  assigned     attempt 1 → backend: label ccc:backend → backend; backend has backend; .*$`));
    expect(body[2]).toMatch(new RegExp(`^${TIME}  started      running on backend$`));
    expect(body[3]).toMatch(new RegExp(`^${TIME}  │ step: reading the issue$`));
    expect(body[4]).toMatch(new RegExp(`^${TIME}  failed       exit code 3: tests fail$`));
    expect(body[5]).toMatch(/^ {23}see the log.*$/);

    const json = await cli(['logs', String(id), '--json'], env);
    const events = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => e.kind)).toEqual(['created', 'assigned', 'started', 'progress', 'failed']);
    expect(events[3]).toMatchObject({ attempt: 1, agentId: 'backend', message: 'step: reading the issue' });
  });

  it('-f follows a task live until it succeeds, then exits 0', async () => {
    const { url, env } = await cliSetup();
    const agent = await liveAgent(url, 'backend', SPECIALTIES.backend!);
    const id = await assigned(url, agent);
    const follow = startCli(['logs', String(id), '-f'], env);
    await eventually(() => follow.stdout().includes('assigned'), 10_000, 'the history so far');
    expect(follow.stdout()).not.toContain('started');

    agent.send({ type: 'task.started', taskId: id, attempt: 1 });
    agent.send({ type: 'task.progress', taskId: id, attempt: 1, text: 'half way' });
    await eventually(() => follow.stdout().includes('half way'), 10_000, 'a live progress line');
    finish(agent, id, 'succeeded', 'all done');

    const result = await follow.done;
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const kinds = result.stdout.split('\n').slice(2, -1).map((l) => l.split(/\s+/)[1]);
    expect(kinds).toEqual(['created', 'assigned', 'started', '│', 'succeeded']);
  });

  it('-f exits 1 when the task fails or is cancelled, and at once when it is already final', async () => {
    const { url, env } = await cliSetup();
    const agent = await liveAgent(url, 'backend', SPECIALTIES.backend!, { capacity: 2 });
    const failing = await assigned(url, agent, 'Will fail');
    const cancelled = await assigned(url, agent, 'Will be cancelled');
    const followFail = startCli(['logs', String(failing), '-f', '--json'], env);
    const followCancel = startCli(['logs', String(cancelled), '-f'], env);
    await eventually(() => followFail.stdout().includes('"assigned"') && followCancel.stdout().includes('assigned'), 10_000, 'both following');

    finish(agent, failing, 'failed', 'exit code 3: no luck');
    expect(await cli(['cancel', String(cancelled)], env)).toMatchObject({ code: 0 });

    const failed = await followFail.done;
    expect(failed.code).toBe(1);
    expect(failed.stdout.trimEnd().split('\n').map((l) => JSON.parse(l).kind)).toEqual(['created', 'assigned', 'failed']);
    const stopped = await followCancel.done;
    expect(stopped.code).toBe(1);
    expect(stopped.stdout).toMatch(new RegExp(`\n${TIME}  cancelled    .*\n$`));

    expect((await cli(['logs', String(failing), '-f'], env)).code).toBe(1);
    const succeeded = await assigned(url, agent, 'Will succeed');
    finish(agent, succeeded, 'succeeded', 'ok');
    await eventually(async () => (await api(url, `/tasks/${succeeded}`)).body.task.state === 'succeeded', 5000, 'succeeded');
    expect((await cli(['logs', String(succeeded), '-f'], env)).code).toBe(0);
  });

  it('-f waits through a coordinator restart and shows each event once', async () => {
    const { dir, coordinator, url, env } = await cliSetup();
    const agent = await liveAgent(url, 'backend', SPECIALTIES.backend!);
    const id = await assigned(url, agent);
    agent.send({ type: 'task.started', taskId: id, attempt: 1 });
    const follow = startCli(['logs', String(id), '-f'], env);
    await eventually(() => follow.stdout().includes('started'), 10_000, 'following');

    await coordinator.close();
    agent.ws.terminate();
    await eventually(() => follow.stderr().includes('reconnecting'), 10_000, 'the lost-stream note');
    const again = await startTestCoordinator(testEnv(dir, { CCC_LISTEN: new URL(url).host }));
    const back = await liveAgent(again.url, 'backend', SPECIALTIES.backend!, { tasks: [{ taskId: id, attempt: 1 }] });
    await eventually(() => follow.stderr().includes('live stream back'), 10_000, 'the stream back');
    back.send({ type: 'task.progress', taskId: id, attempt: 1, text: 'after the restart' });
    finish(back, id, 'succeeded', 'done after all');

    const result = await follow.done;
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^ccc: lost the live stream of task 1 \(.*\); reconnecting\nccc: live stream back\n$/);
    const kinds = result.stdout.split('\n').slice(2, -1).map((l) => l.split(/\s+/)[1]);
    expect(kinds).toEqual(['created', 'assigned', 'started', '│', 'succeeded']);
  });
});

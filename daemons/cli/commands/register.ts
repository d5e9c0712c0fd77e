/** The operator commands on the `ccc` yargs instance: options, help examples, and the run that sets the exit code. */
import type { Argv } from 'yargs';
import type { Env } from '../../shared/config.js';
import { TASK_STATES } from '../../coordinator/task-model.js';
import { runAgents, runAllowEnroll, runDrainOrResume, runRevoke } from './agents.js';
import { ApiClient, CliError, EXIT, type ExitCode } from './api-client.js';
import { resolveConnection, type Connection, type ConnectionFlags } from './connection.js';
import { runDoctor } from './doctor.js';
import { processIo, type Io } from './io.js';
import { runLogs } from './logs.js';
import { parsePullNumber, runComment, runPull, runPulls } from './pulls.js';
import { runStatus } from './status.js';
import { runSubmit } from './submit.js';
import { parseLimit, parseTaskId, runApprove, runCancelOrRetry, runTasks } from './tasks.js';

interface CommonArgs extends ConnectionFlags {
  json: boolean;
}

function common<T>(y: Argv<T>) {
  return y
    .option('url', { type: 'string', describe: 'coordinator URL [else CCC_COORDINATOR_URL, else the one ccc up wrote, else cluster.yml]' })
    .option('token', { type: 'string', nargs: 1, describe: 'admin token; `-` reads it from stdin [else CCC_ADMIN_TOKEN, else .ccc/up/secrets.env]' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON for scripts instead of text' })
    .group(['url', 'token', 'json'], 'Coordinator and output:');
}

/** Runs one command against the coordinator and records its exit code. */
async function act(args: CommonArgs, env: Env, run: (api: ApiClient, io: Io, connection: Connection) => Promise<ExitCode>): Promise<void> {
  const connection = resolveConnection({ url: args.url, token: args.token }, env);
  process.exitCode = await run(new ApiClient(connection), processIo(), connection);
}

export const OPERATOR_COMMANDS = ['status', 'agents', 'tasks', 'submit', 'logs', 'cancel', 'retry', 'approve', 'drain', 'resume', 'doctor', 'pulls', 'pull', 'comment'] as const;

/** Adds status, agents, tasks, submit, logs, cancel, retry, drain, resume and doctor. */
export function registerOperatorCommands<T>(yargs: Argv<T>, env: Env): Argv<T> {
  return yargs
    .command('status', 'cluster summary: coordinator, agents and tasks by state, running tasks', (y) =>
      common(y).example('$0 status', 'where the coordinator is, what runs now'),
    (args) => act(args, env, (api, io, connection) => runStatus(api, connection, io, { json: args.json })))

    .command('agents', 'list the agents: state, load, specialties, address, enrollment', (y) =>
      common(y).example('$0 agents --json | jq -r \'.agents[] | select(.state=="online") | .id\'', 'ids of the online agents')
        .command('revoke <agent>', "revoke an agent's credential: its connection closes, its tasks are queued again", (z) =>
          common(z).positional('agent', { type: 'string', demandOption: true, describe: 'agent id' })
            .option('allow-reenroll', { type: 'boolean', default: false, describe: 'let it enroll again with the join token' })
            .example('$0 agents revoke backend', 'backend\'s machine is lost'),
        (args) => act(args, env, (api, io) => runRevoke(api, io, { agent: args.agent, allowReenroll: args.allowReenroll, json: args.json })))
        .command('allow-enroll <agent>', 'let an agent enroll (again) with the join token', (z) =>
          common(z).positional('agent', { type: 'string', demandOption: true, describe: 'agent id' })
            .example('$0 agents allow-enroll backend', 'backend lost its credential file'),
        (args) => act(args, env, (api, io) => runAllowEnroll(api, io, { agent: args.agent, json: args.json }))),
    (args) => act(args, env, (api, io) => runAgents(api, io, { json: args.json })))

    .command('tasks', 'list tasks, newest first', (y) =>
      common(y)
        .option('state', { choices: TASK_STATES, describe: 'only tasks in this state' })
        .option('agent', { type: 'string', describe: 'only tasks held (or last held) by this agent' })
        .option('limit', { type: 'number', default: 50, describe: 'at most this many (1–5000)' })
        .example('$0 tasks --state failed --limit 10', 'the ten newest failed tasks'),
    (args) => act(args, env, (api, io) => runTasks(api, io, { state: args.state, agent: args.agent, limit: parseLimit(args.limit), json: args.json })))

    .command('submit', 'create a task; prints its id and how it was routed', (y) =>
      common(y)
        .option('title', { type: 'string', demandOption: true, describe: 'what to do, in one line' })
        .option('body', { type: 'string', describe: 'the details, as an issue body' })
        .option('body-file', { type: 'string', nargs: 1, describe: 'read the body from this file (`-`: stdin)' })
        .option('label', { type: 'string', array: true, default: [] as string[], describe: 'a label (repeatable); ccc:<specialty> picks the specialty' })
        .option('repo', { type: 'string', describe: 'the repository to work on, owner/name' })
        .option('specialty', { type: 'string', describe: 'the specialty; wins over labels and keywords' })
        .option('propose', { type: 'boolean', default: false, describe: 'a planner run proposes the steps of a plan; `ccc approve <id>` runs them' })
        .conflicts('body', 'body-file')
        .example('$0 submit --title "Add a health endpoint" --label ccc:backend --repo demo/app', 'routed to the backend agent')
        .example('$0 submit --title "Status page" --label ccc:backend --label ccc:frontend --repo demo/app', 'a plan: backend, then frontend, one pull request'),
    (args) => act(args, env, (api, io) => runSubmit(api, io, {
      title: args.title, body: args.body, bodyFile: args.bodyFile, labels: args.label.map(String), repo: args.repo, specialty: args.specialty, propose: args.propose, json: args.json,
    })))

    .command('logs <task>', "a task's history; -f follows it live until it ends (exit 0 if it succeeded, 1 if not)", (y) =>
      common(y)
        .positional('task', { type: 'string', describe: 'task id' })
        .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'keep printing new events until the task is final' })
        .example('$0 logs 12 -f', 'follow task 12 to its end')
        .example('$0 logs 12 --json | jq -r .message', 'one JSON event per line'),
    (args) => act(args, env, (api, io) => runLogs(api, io, { task: parseTaskId(args.task), follow: args.follow, json: args.json })))

    .command('cancel <task>', 'stop a queued or running task (its agent is told to stop)', (y) =>
      common(y).positional('task', { type: 'string', describe: 'task id' }).example('$0 cancel 12', 'task 12 becomes cancelled'),
    (args) => act(args, env, (api, io) => runCancelOrRetry(api, io, { task: parseTaskId(args.task), action: 'cancel', json: args.json })))

    .command('retry <task>', 'queue a failed or cancelled task again, with a fresh set of attempts', (y) =>
      common(y).positional('task', { type: 'string', describe: 'task id' }).example('$0 retry 12', 'task 12 goes back to the queue'),
    (args) => act(args, env, (api, io) => runCancelOrRetry(api, io, { task: parseTaskId(args.task), action: 'retry', json: args.json })))

    .command('approve <task>', "run a planner task's proposed steps as a plan (`ccc submit --propose`, `/ccc plan`)", (y) =>
      common(y).positional('task', { type: 'string', describe: 'the planner task id' }).example('$0 approve 12', "planner task 12's steps become a plan"),
    (args) => act(args, env, (api, io) => runApprove(api, io, { task: parseTaskId(args.task), json: args.json })))

    .command('pulls', "list the local forge's pull requests", (y) =>
      common(y).example('$0 pulls', 'number, state, repository, branch, title'),
    (args) => act(args, env, (api, io) => runPulls(api, io, { json: args.json })))

    .command('pull <number>', 'a local-forge pull request: commits, tasks and conversation; --diff prints its diff', (y) =>
      common(y)
        .positional('number', { type: 'string', describe: 'pull request number' })
        .option('diff', { type: 'boolean', default: false, describe: 'print the diff (from the merge base) instead' })
        .example('$0 pull 3 --diff | less', 'read the changes'),
    (args) => act(args, env, (api, io) => runPull(api, io, { number: parsePullNumber(args.number), diff: args.diff, json: args.json })))

    .command('comment <number> <text>', 'comment on a local-forge pull request; "/ccc …" asks for a follow-up, "/ccc cancel" or "/ccc retry" act on its task', (y) =>
      common(y)
        .positional('number', { type: 'string', describe: 'pull request number' })
        .positional('text', { type: 'string', describe: 'the comment' })
        .option('author', { type: 'string', describe: 'who comments [operator]' })
        .example('$0 comment 3 "/ccc also log each request"', 'a new commit on the same branch, no new pull request'),
    (args) => act(args, env, (api, io) => runComment(api, io, { number: parsePullNumber(args.number), body: String(args.text ?? ''), author: args.author, json: args.json })))

    .command('drain <agent>', 'give an agent no new tasks; its running tasks finish', (y) =>
      common(y).positional('agent', { type: 'string', demandOption: true, describe: 'agent id' }).example('$0 drain backend', 'before maintenance on the backend machine'),
    (args) => act(args, env, (api, io) => runDrainOrResume(api, io, { agent: args.agent, action: 'drain', json: args.json })))

    .command('resume <agent>', 'let a drained agent take tasks again', (y) =>
      common(y).positional('agent', { type: 'string', demandOption: true, describe: 'agent id' }).example('$0 resume backend', 'undo ccc drain backend'),
    (args) => act(args, env, (api, io) => runDrainOrResume(api, io, { agent: args.agent, action: 'resume', json: args.json })))

    .command('doctor', 'check this machine and the coordinator: one line each, with the fix', (y) =>
      common(y).example('$0 doctor', 'node, claude, config, git, coordinator, token, disk'),
    async (args) => {
      let connection: Connection | CliError;
      try {
        connection = resolveConnection({ url: args.url, token: args.token }, env);
      } catch (err) {
        if (!(err instanceof Error)) throw err;
        connection = err instanceof CliError ? err : new CliError(err.message.split('\n')[0]!, EXIT.usage);
      }
      process.exitCode = await runDoctor({ env, connection }, processIo(), { json: args.json });
    });
}

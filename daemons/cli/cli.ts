/** `ccc`'s commands, parsed by yargs (main.ts loads this for everything but a bare `ccc coordinator` / `ccc agent`). */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { CccError } from '../shared/errors.js';
import { version } from '../shared/version.js';
import { CliError, EXIT } from './commands/api-client.js';
import { OPERATOR_COMMANDS, registerOperatorCommands } from './commands/register.js';

const env = process.env;
// Each command loads its own modules when it runs: a daemon does not carry the others' code.
const runUp = async (o: Parameters<typeof import('./up.js').runUp>[0]) => (await import('./up.js')).runUp(o);
const runCoordinator = async (e: typeof env) => (await import('./daemons.js')).runCoordinator(e);
const runAgent = async (e: typeof env) => (await import('./daemons.js')).runAgent(e);
const runRehearsalModel = async (o: Parameters<typeof import('./rehearsal-model.js').runRehearsalModel>[0]) => (await import('./rehearsal-model.js')).runRehearsalModel(o);
const COMMANDS = new Set(['up', 'coordinator', 'agent', 'rehearsal-model', ...OPERATOR_COMMANDS]);

export async function main(argv: string[]): Promise<void> {
  const cli = yargs(argv)
    .scriptName('ccc')
    .version(version)
    .strict()
    .demandCommand(1, 'say which command to run')
    .command('up', 'run the whole cluster of config/cluster.yml as local processes', (y) =>
      y.option('port', { type: 'number', default: 8080, describe: 'coordinator port (0 picks a free one)' })
        .option('demo', { type: 'boolean', default: false, describe: 'submit one sample issue per specialty and follow them to their pull requests' })
        .example('$0 up', 'coordinator on 127.0.0.10:8080, agents from 127.0.0.11–14')
        .example('$0 up --demo', 'the same, plus four sample tasks to watch'),
    (args) => runUp({ port: args.port, env, demo: args.demo }))
    .command('coordinator', 'run the coordinator daemon (what ccc-coordinator.service runs)', (y) =>
      y.example('CCC_ADMIN_TOKEN=… CCC_AGENT_TOKEN=… $0 coordinator', 'listen on 0.0.0.0:8080'),
    () => runCoordinator(env))
    .command('agent', 'run an agent daemon (what ccc-agent.service runs)', (y) =>
      y.example('CCC_AGENT_ID=backend CCC_AGENT_TOKEN=… $0 agent', 'connect to the coordinator of cluster.yml'),
    () => runAgent(env))
    .command('rehearsal-model', 'run the scripted Messages API the claude CLI can use without an Anthropic key', (y) =>
      y.option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on' })
        .option('port', { type: 'number', default: 0, describe: 'port (0 picks a free one)' })
        .example('$0 rehearsal-model --port 9000', 'then ANTHROPIC_BASE_URL=http://127.0.0.1:9000 ANTHROPIC_API_KEY=dummy claude -p …'),
    (args) => runRehearsalModel({ host: args.host, port: args.port, env }));
  await registerOperatorCommands(cli, env)
    .fail((message, err) => {
      // yargs' own complaints (YError, or a message alone) are usage errors; anything else came from a command.
      if (err && err.name !== 'YError') throw err;
      // One line: what is wrong, and where the command's options are listed.
      const command = argv.find((a) => !a.startsWith('-'));
      const help = command && COMMANDS.has(command) ? `ccc ${command} --help` : 'ccc --help';
      process.stderr.write(`ccc: ${(message ?? err?.message ?? 'usage error').replace(/:\s*\n\s*/g, ': ').replace(/\s*\n\s*/g, '; ')} (see ${help})\n`);
      process.exit(EXIT.usage);
    })
    .epilogue('Exit codes: 0 ok, 1 the operation (or the followed task) failed, 2 usage or config error, 3 coordinator unreachable, 4 admin token refused. Examples of every command: docs/cli.md.')
    .help()
    .parseAsync();
}

/** One line for a known failure (the stack only for a bug), and the exit code that goes with it. */
export function exitWith(err: unknown): never {
  if (err instanceof CccError) {
    process.stderr.write(`ccc: ${err.message}\n`);
    process.exit(err instanceof CliError ? err.exitCode : EXIT.usage);
  }
  process.stderr.write(`ccc: unexpected error (a bug; please report it):\n${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}

/** Runs `ccc` with the process's arguments. */
export function run(): void {
  main(hideBin(process.argv)).catch(exitWith);
}

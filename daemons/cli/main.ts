#!/usr/bin/env node
/** `ccc`: the operator CLI and the entry point systemd and `ccc up` use to run the daemons. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { CccError } from '../shared/errors.js';
import { version } from '../shared/version.js';
import { runAgent, runCoordinator } from './daemons.js';
import { runRehearsalModel } from './rehearsal-model.js';
import { runUp } from './up.js';

const env = process.env;

async function main(argv: string[]): Promise<void> {
  await yargs(argv)
    .scriptName('ccc')
    .version(version)
    .strict()
    .demandCommand(1, 'say which command to run; `ccc --help` lists them')
    .command('up', 'run the whole cluster of config/cluster.yml as local processes', (y) =>
      y.option('port', { type: 'number', default: 8080, describe: 'coordinator port (0 picks a free one)' })
        .example('$0 up', 'coordinator on 127.0.0.10:8080, agents from 127.0.0.11–14'),
    (args) => runUp({ port: args.port, env }))
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
    (args) => runRehearsalModel({ host: args.host, port: args.port, env }))
    .fail((message, err) => {
      if (err) throw err;
      process.stderr.write(`ccc: ${message}\n`);
      process.stderr.write('Run `ccc --help` for the commands and their options.\n');
      process.exit(2);
    })
    .help()
    .parseAsync();
}

main(hideBin(process.argv)).catch((err: unknown) => {
  if (err instanceof CccError) {
    process.stderr.write(`ccc: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`ccc: unexpected error (a bug; please report it):\n${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

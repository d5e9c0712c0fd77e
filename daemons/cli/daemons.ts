/** `ccc coordinator` and `ccc agent`: the daemons as systemd (or `ccc up`) runs them, with signal handling. */
import { hostname } from 'node:os';
import { agentNode, loadSettings, requireSecret, secretValues, type Env, type Settings } from '../shared/config.js';
import { createLogger, type Logger } from '../shared/log.js';
import { version } from '../shared/version.js';
import { startCoordinator } from '../coordinator/server.js';
import { Agent } from '../agent/agent.js';
import { createExecutor } from '../agent/executor-factory.js';

function loggerFor(settings: Settings, name: string): Logger {
  return createLogger({ level: settings.logLevel, name, secrets: secretValues(settings), pretty: process.stdout.isTTY === true });
}

/** Runs `stop` on the first SIGTERM/SIGINT, exits at once on the second. */
function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    stop().then(
      () => { log.flush(); process.exit(0); },
      (err: unknown) => { log.error({ err }, 'shutdown failed'); log.flush(); process.exit(1); },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

export async function runCoordinator(env: Env): Promise<void> {
  const settings = loadSettings(env, 'coordinator');
  const log = loggerFor(settings, 'ccc-coordinator');
  const coordinator = await startCoordinator(settings, log);
  onShutdown(log, () => coordinator.close());
}

export async function runAgent(env: Env): Promise<void> {
  const settings = loadSettings(env, 'agent');
  const node = agentNode(settings);
  const token = requireSecret(settings, 'agentToken', 'CCC_AGENT_TOKEN');
  const log = loggerFor(settings, 'ccc-agent').child({ agentId: node.name });
  const { drainTimeoutSeconds } = settings.cluster.agent;
  const agent = new Agent({
    coordinatorUrl: settings.coordinatorUrl,
    token,
    id: node.name,
    hostname: hostname(),
    version,
    specialties: node.specialties,
    capacity: node.capacity,
    executor: createExecutor(settings, node, env, log),
    dataDir: settings.dataDir,
    drainTimeoutMs: drainTimeoutSeconds * 1000,
    sourceAddress: settings.agentSourceAddress,
    log,
  });
  log.info({ coordinator: settings.coordinatorUrl, specialties: node.specialties, capacity: node.capacity, dataDir: settings.dataDir }, 'agent starting');
  agent.start();
  onShutdown(log, async () => {
    await agent.drain();
    await agent.stop();
  });
}

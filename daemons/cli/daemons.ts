/**
 * `ccc coordinator` and `ccc agent`: the daemons as systemd (or `ccc up`) runs them, with signal
 * handling and sd_notify (READY/STATUS/WATCHDOG/STOPPING; a no-op outside systemd).
 */
import { hostname } from 'node:os';
import { agentNode, loadSettings, secretValues, type Env, type Settings } from '../shared/config.js';
import { createLogger, type Logger } from '../shared/log.js';
import { createNotifier, type Notifier } from '../shared/notify.js';
import { version } from '../shared/version.js';
// The coordinator's and the agent's modules are imported by the function that runs each, so neither
// daemon loads the other's code.
import type { RunningCoordinator } from '../coordinator/server.js';
import type { Agent } from '../agent/agent.js';
import { loadTrust } from '../shared/tls.js';
import { CccError } from '../shared/errors.js';

function loggerFor(settings: Settings, name: string): Logger {
  return createLogger({ level: settings.logLevel, name, secrets: secretValues(settings), pretty: process.stdout.isTTY === true });
}

/** How long a node whose `ccc up` is gone may take to stop before it exits anyway. */
const PARENT_GONE_GRACE_MS = 10_000;

/**
 * Runs `stop` on the first SIGTERM/SIGINT (after telling systemd STOPPING=1), exits at once on the
 * second. A node started by `ccc up` has an IPC channel to it: when that closes (`ccc up` exited, even
 * by SIGKILL), the node stops too, within PARENT_GONE_GRACE_MS.
 */
function onShutdown(log: Logger, notify: Notifier, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals | 'parent gone') => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    notify.stopping(`stopping (${signal})`);
    const exit = (code: number) => notify.close().then(() => { log.flush(); process.exit(code); });
    stop().then(
      () => exit(0),
      (err: unknown) => { log.error({ err }, 'shutdown failed'); return exit(1); },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  if (process.channel) {
    process.channel.unref(); // the channel only watches the parent; it must not keep the node alive
    process.once('disconnect', () => {
      setTimeout(() => handler('parent gone'), PARENT_GONE_GRACE_MS).unref();
      handler('parent gone');
    });
  }
}

export async function runCoordinator(env: Env): Promise<void> {
  const settings = loadSettings(env, 'coordinator');
  const log = loggerFor(settings, 'ccc-coordinator');
  const notify = createNotifier({ env, log });
  const { startCoordinator } = await import('../coordinator/server.js');
  const coordinator = await startCoordinator(settings, log);
  const status = coordinatorStatus(coordinator);
  notify.ready(status());
  if (notify.enabled) {
    // At most one STATUS= a second: task changes come in bursts (hundreds a second), and computing
    // the line inside every commit once cost more than the work itself (see docs/performance.md).
    let pending: NodeJS.Timeout | undefined;
    const refresh = () => {
      pending ??= setTimeout(() => { pending = undefined; notify.status(status()); }, STATUS_EVERY_MS);
    };
    coordinator.store.onChange(refresh);
    coordinator.registry.onChange(refresh);
  }
  onShutdown(log, notify, () => coordinator.close());
}

const STATUS_EVERY_MS = 1000;

/** `listening on 0.0.0.0:8080 · 4 agents online · 1 queued · 2 running`, for STATUS=. */
function coordinatorStatus(c: RunningCoordinator): () => string {
  const where = new URL(c.url).host;
  return () => {
    const agents = c.registry.connected.size;
    const tasks = c.store.countsByState();
    return `listening on ${where} · ${agents} agent${agents === 1 ? '' : 's'} online · ${tasks.queued} queued · ${tasks.running} running`;
  };
}

export async function runAgent(env: Env): Promise<void> {
  const settings = loadSettings(env, 'agent');
  const node = agentNode(settings);
  const log = loggerFor(settings, 'ccc-agent').child({ agentId: node.name });
  const [{ Agent }, { createExecutor }, { agentFitness }, { AgentCredential }] = await Promise.all([
    import('../agent/agent.js'), import('../agent/executor-factory.js'), import('../agent/fitness.js'), import('../agent/credential.js'),
  ]);
  const credential = new AgentCredential({ dataDir: settings.dataDir, joinToken: settings.agentToken, log });
  if (credential.enrolling && !settings.agentToken) {
    throw new CccError(`no credential in ${credential.file} yet: set CCC_AGENT_TOKEN to the cluster's join token so this agent can enroll`, 'config');
  }
  const notify = createNotifier({ env, log });
  const { drainTimeoutSeconds } = settings.cluster.agent;
  const fitness = await agentFitness(settings, node);
  if (fitness.refusal) log.error({ reason: fitness.refusal }, 'this agent takes no task');
  let ready = false;
  const agent: Agent = new Agent({
    coordinatorUrl: settings.coordinatorUrl,
    credential,
    trust: loadTrust(settings.tlsCa),
    id: node.name,
    hostname: hostname(),
    version,
    specialties: node.specialties,
    capacity: node.capacity,
    executor: createExecutor(settings, node, env, log, fitness.reach, credential.file),
    refusal: fitness.refusal,
    sandboxNote: fitness.note,
    dataDir: settings.dataDir,
    drainTimeoutMs: drainTimeoutSeconds * 1000,
    sourceAddress: settings.agentSourceAddress,
    log,
    // READY=1 once registered (the first "connected to …"), STATUS= on every change after that.
    onStatus: (status) => {
      if (!ready && agent.connected) {
        ready = true;
        notify.ready(status);
      } else {
        notify.status(status);
      }
    },
  });
  log.info({ coordinator: settings.coordinatorUrl, specialties: node.specialties, capacity: node.capacity, dataDir: settings.dataDir }, 'agent starting');
  agent.start();
  notify.status(agent.status());
  onShutdown(log, notify, async () => {
    await agent.drain();
    await agent.stop();
  });
}

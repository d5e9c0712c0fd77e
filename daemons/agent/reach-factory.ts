/** Builds the agent's ModelReach from its settings: the relay's upstream and credential, the egress allowlist, the sandbox mode. */
import { dirname, join } from 'node:path';
import type { Settings } from '../shared/config.js';
import { CccError } from '../shared/errors.js';
import { parseRules, upstreamRule, type EgressRule } from './egress/allowlist.js';
import { ModelReach } from './model-reach.js';
import { ANTHROPIC_API_URL, ModelRelay } from './relay/model-relay.js';
import type { SandboxProbe } from './sandbox/probe.js';

/** The model upstream, then CCC_EGRESS_ALLOW or agent.egress.allow; a bad pattern stops the agent with the reason. */
export function egressRules(settings: Settings, upstream: string): EgressRule[] {
  const patterns = settings.egressAllow ?? settings.cluster.agent.egress.allow;
  try {
    return parseRules([upstreamRule(upstream), ...patterns]);
  } catch (err) {
    const where = settings.egressAllow ? 'environment: CCC_EGRESS_ALLOW' : `${settings.configFile}: agent.egress.allow`;
    throw new CccError(`${where}: ${(err as Error).message}`, 'config');
  }
}

export function createModelReach(settings: Settings, probe: SandboxProbe): ModelReach {
  const upstream = settings.anthropicBaseUrl ?? ANTHROPIC_API_URL;
  return new ModelReach({
    relay: new ModelRelay({ upstream, credential: { apiKey: settings.anthropicApiKey, authToken: settings.anthropicAuthToken } }),
    sandbox: settings.cluster.agent.sandbox,
    probe,
    dataDir: settings.dataDir,
    egress: egressRules(settings, upstream),
    readOnly: [join(settings.dataDir, 'workspaces', 'mirrors'), ...nodeInstallation()],
  });
}

/** Node's own installation when it is not under /usr (e.g. /opt/ccc/node on the machines): the project's build and tests need it. */
function nodeInstallation(): string[] {
  const prefix = dirname(dirname(process.execPath));
  return prefix.startsWith('/usr') || prefix === '/' ? [] : [prefix];
}

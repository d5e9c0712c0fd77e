/** `ccc doctor` checks of the model's reach: can this host confine the CLI, and is there a model credential for the relay. */
import { allowsBash } from '../../agent/claude-executor.js';
import { profileFor } from '../../agent/profile.js';
import { probeSandbox } from '../../agent/sandbox/probe.js';
import type { Env, Settings } from '../../shared/config.js';
import type { Check } from './doctor.js';

export async function checkSandbox(settings: Settings | undefined, env: Env): Promise<Check> {
  const executor = settings?.cluster.agent.executor;
  if (!settings || executor?.type !== 'claude') return { check: 'sandbox', status: 'ok', detail: 'not used: agent.executor.type is command' };
  if (settings.cluster.agent.sandbox === 'off') return { check: 'sandbox', status: 'warn', detail: 'agent.sandbox is off: the CLI and its tools run unconfined, with the agent\'s user', fix: 'remove agent.sandbox: off once bubblewrap works here' };
  const probe = await probeSandbox(env);
  if (probe.ok) return { check: 'sandbox', status: 'ok', detail: `bubblewrap: ${probe.detail}` };
  const bash = settings.cluster.agents.some((a) => ['default', ...a.specialties].some((s) => {
    const config = { ...executor, ...a.claude };
    return allowsBash(profileFor(config, s).allowedTools, config.permissionMode);
  }));
  return bash
    ? { check: 'sandbox', status: 'fail', detail: `${probe.reason}; agents whose profile allows Bash take no task here`, fix: probe.fix }
    : { check: 'sandbox', status: 'warn', detail: `${probe.reason}; no profile allows Bash, so agents still run (file tools unconfined)`, fix: probe.fix };
}

export function checkModelCredential(settings: Settings | undefined): Check {
  if (settings?.cluster.agent.executor.type !== 'claude') return { check: 'model', status: 'ok', detail: 'not used: agent.executor.type is command' };
  const where = settings.anthropicBaseUrl ?? 'the Anthropic API';
  if (settings.anthropicApiKey || settings.anthropicAuthToken) {
    return { check: 'model', status: 'ok', detail: `${settings.anthropicApiKey ? 'ANTHROPIC_API_KEY' : 'ANTHROPIC_AUTH_TOKEN'} set for ${where}; the agent's relay holds it, the CLI gets a per-task token` };
  }
  return { check: 'model', status: 'warn', detail: 'no ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN in this environment: an agent started from it takes no task', fix: 'set one in the agent\'s env file (/etc/ccc/agent.env), or run `ccc up`, which uses the rehearsal model' };
}

/**
 * Whether this agent may take tasks, decided once at start: a claude executor
 * needs a model credential, and where any of its profiles allows Bash, a host
 * that can confine the CLI (or `agent.sandbox: off`, the operator's choice).
 */
import type { AgentNode } from '../shared/cluster-schema.js';
import type { Settings } from '../shared/config.js';
import { allowsBash } from './claude-executor.js';
import type { ModelReach } from './model-reach.js';
import { profileFor } from './profile.js';
import { createModelReach } from './reach-factory.js';
import { probeSandbox, type SandboxProbe } from './sandbox/probe.js';

export interface Fitness {
  reach: ModelReach;
  probe: SandboxProbe;
  refusal: string | undefined;
  /** For the status line. */
  note: string;
}

export async function agentFitness(settings: Settings, node: AgentNode, probe?: SandboxProbe): Promise<Fitness> {
  const p = probe ?? await probeSandbox();
  const reach = createModelReach(settings, p);
  const executor = settings.cluster.agent.executor;
  if (executor.type !== 'claude') return { reach, probe: p, refusal: undefined, note: '' };
  const config = { ...executor, ...node.claude };
  const bash = ['default', ...node.specialties].some((s) => {
    const profile = profileFor(config, s);
    return allowsBash(profile.allowedTools, config.permissionMode);
  });
  const note = reach.confined ? 'sandbox: bubblewrap' : settings.cluster.agent.sandbox === 'off' ? 'sandbox: off (agent.sandbox)' : `sandbox unavailable: ${p.ok ? '' : p.reason}`;
  return { reach, probe: p, refusal: reach.refusal(bash), note };
}

/**
 * The profile a task runs with: its specialty's entry of `profiles` (else
 * `default`), over the executor's own keys. It decides the tools, model, turn
 * limit, cost budget, system prompt, MCP servers and egress additions of one run.
 */
import type { ClaudeExecutorConfig, Profile } from '../shared/cluster-schema.js';
import { systemPromptFor } from './prompt.js';

export interface ResolvedProfile {
  allowedTools: string[];
  model: string | undefined;
  maxTurns: number;
  maxBudgetUsd: number | undefined;
  systemPrompt: string | undefined;
  mcpServers: Profile['mcpServers'];
  egressAllow: string[];
  /** Set only for a planner run: replaces the executor's permission mode, and tools it may never use. */
  permissionMode?: 'default';
  disallowedTools?: string[];
}

/** Tools a planner run may not use: anything that writes, runs commands or reaches the network. */
const WRITING_TOOLS = ['Bash', 'Write', 'Edit', 'MultiEdit', 'NotebookEdit', 'WebFetch', 'WebSearch'];

/**
 * A planner run (`/ccc plan`) reads and answers: read-only tools, no MCP servers, the default
 * permission mode (headless, so anything not allowed is refused), whatever its profile says.
 */
export function plannerProfile(profile: ResolvedProfile): ResolvedProfile {
  return { ...profile, allowedTools: ['Read', 'Grep', 'Glob'], disallowedTools: WRITING_TOOLS, permissionMode: 'default', mcpServers: undefined, egressAllow: [] };
}

export function profileFor(config: Omit<ClaudeExecutorConfig, 'type'>, specialty: string): ResolvedProfile {
  const own: Profile = config.profiles[specialty] ?? config.profiles.default ?? {};
  return {
    allowedTools: own.allowedTools ?? config.allowedTools,
    model: own.model ?? config.model,
    maxTurns: own.maxTurns ?? config.maxTurns,
    maxBudgetUsd: own.maxBudgetUsd ?? config.maxBudgetUsd,
    systemPrompt: own.systemPrompt ?? systemPromptFor(specialty, config.systemPrompts),
    mcpServers: own.mcpServers,
    egressAllow: own.egressAllow ?? [],
  };
}

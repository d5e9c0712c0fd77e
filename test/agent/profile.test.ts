/** A specialty's profile decides the CLI's tools, model, turn limit, cost budget, system prompt, MCP servers and egress additions. */
import { describe, expect, it } from 'vitest';
import { ClaudeExecutor } from '../../daemons/agent/claude-executor.js';
import type { ModelReach } from '../../daemons/agent/model-reach.js';
import { profileFor } from '../../daemons/agent/profile.js';
import { claudeExecutorSchema } from '../../daemons/shared/cluster-schema.js';

const config = claudeExecutorSchema.parse({
  type: 'claude', maxTurns: 30, maxBudgetUsd: 0.5, systemPrompts: { backend: 'Server code.', default: 'Be careful.' },
  profiles: {
    frontend: { systemPrompt: 'UI only.', allowedTools: ['Read', 'Edit', 'Bash(npm test:*)'], model: 'claude-sonnet-4-5', maxTurns: 40, maxBudgetUsd: 2, egressAllow: ['packages.example.com'], mcpServers: { docs: { command: 'docs-mcp', args: ['--stdio'] } } },
  },
});

describe('profiles', () => {
  it('a specialty with a profile gets its keys; one without falls back to the executor and systemPrompts', () => {
    expect(profileFor(config, 'frontend')).toEqual({
      allowedTools: ['Read', 'Edit', 'Bash(npm test:*)'], model: 'claude-sonnet-4-5', maxTurns: 40, maxBudgetUsd: 2, systemPrompt: 'UI only.',
      mcpServers: { docs: { command: 'docs-mcp', args: ['--stdio'] } }, egressAllow: ['packages.example.com'],
    });
    expect(profileFor(config, 'backend')).toEqual({ allowedTools: ['Read', 'Write', 'Edit', 'Glob', 'Grep', 'Bash'], model: undefined, maxTurns: 30, maxBudgetUsd: 0.5, systemPrompt: 'Server code.', mcpServers: undefined, egressAllow: [] });
    expect(profileFor(config, 'devops').systemPrompt).toBe('Be careful.');
  });

  it('become the CLI arguments, MCP servers through a config file and --strict-mcp-config', () => {
    const executor = new ClaudeExecutor({ config, env: {}, reach: {} as ModelReach });
    const args = executor.args(profileFor(config, 'frontend'), 'sid', '/home/x/ccc-mcp.json');
    expect(args).toEqual(['-p', '--output-format', 'stream-json', '--verbose', '--max-turns', '40', '--permission-mode', 'acceptEdits', '--session-id', 'sid',
      '--allowedTools', 'Read,Edit,Bash(npm test:*)', '--model', 'claude-sonnet-4-5', '--max-budget-usd', '2', '--append-system-prompt', 'UI only.', '--mcp-config', '/home/x/ccc-mcp.json', '--strict-mcp-config']);
  });

  it('refuses a cost budget that is not positive, for the executor or a profile', () => {
    expect(claudeExecutorSchema.safeParse({ type: 'claude', maxBudgetUsd: 0 }).success).toBe(false);
    expect(claudeExecutorSchema.safeParse({ type: 'claude', profiles: { devops: { maxBudgetUsd: -1 } } }).success).toBe(false);
  });

  it('rejects an unknown profile key, naming it', () => {
    const r = claudeExecutorSchema.safeParse({ type: 'claude', profiles: { backend: { tools: ['Bash'] } } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('tools');
  });
});

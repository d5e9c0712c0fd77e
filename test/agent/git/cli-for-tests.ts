/** The real Claude Code CLI against the rehearsal model, unconfined, for tests of the agent's git: the plants must land so that git's own defences are what is tested. */
import { join } from 'node:path';
import { ClaudeExecutor } from '../../../daemons/agent/claude-executor.js';
import { ModelReach } from '../../../daemons/agent/model-reach.js';
import { ModelRelay } from '../../../daemons/agent/relay/model-relay.js';
import type { ClaudeExecutorConfig } from '../../../daemons/shared/cluster-schema.js';

export function unconfinedCli(config: ClaudeExecutorConfig, modelUrl: string, dataDir: string): ClaudeExecutor {
  const reach = new ModelReach({
    relay: new ModelRelay({ upstream: modelUrl, credential: { apiKey: 'rehearsal-key' } }),
    sandbox: 'off', probe: { ok: false, reason: 'not probed', fix: 'none' }, dataDir: join(dataDir, 'agent-data'), egress: [], readOnly: [],
  });
  return new ClaudeExecutor({ config, env: { PATH: process.env.PATH, ANTHROPIC_API_KEY: 'rehearsal-key' }, reach });
}

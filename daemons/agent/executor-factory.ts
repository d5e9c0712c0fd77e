/** Builds the executor cluster.yml asks for: a plain command, or the Claude Code CLI in git worktrees. */
import { join } from 'node:path';
import type { AgentNode } from '../shared/cluster-schema.js';
import type { Env, Settings } from '../shared/config.js';
import type { Logger } from '../shared/log.js';
import { ClaudeExecutor } from './claude-executor.js';
import { CommandExecutor } from './command-executor.js';
import type { Executor } from './executor.js';
import type { ModelReach } from './model-reach.js';
import { SessionStore } from './session-store.js';
import { RepoExecutor } from './git/repo-executor.js';
import { Workspaces } from './git/workspaces.js';

/**
 * git's environment: PATH and HOME, and for pushes a credential helper that reads the token from the
 * environment (never argv) — CCC_GIT_PUSH_TOKEN, or else the agent's own credential from its file
 * (the local forge takes that one), read when git asks, so an agent that enrolls later still has it.
 */
export function gitEnv(env: Env, pushToken: string | undefined, credentialFile?: string): Record<string, string> {
  const out: Record<string, string> = { PATH: env.PATH ?? '/usr/bin:/bin', HOME: env.HOME ?? '/nonexistent' };
  if (!pushToken && credentialFile) {
    Object.assign(out, {
      CCC_AGENT_CREDENTIAL_FILE: credentialFile,
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'credential.helper',
      GIT_CONFIG_VALUE_0: '!f() { test "$1" = get && echo username=ccc-agent && echo "password=$(cat "$CCC_AGENT_CREDENTIAL_FILE")"; }; f',
    });
  } else if (pushToken) {
    Object.assign(out, {
      CCC_GIT_PUSH_TOKEN: pushToken,
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'credential.helper',
      GIT_CONFIG_VALUE_0: '!f() { test "$1" = get && echo username=x-access-token && echo "password=$CCC_GIT_PUSH_TOKEN"; }; f',
    });
  }
  return out;
}

export function createExecutor(settings: Settings, node: AgentNode, env: Env, log: Logger, reach: ModelReach, credentialFile?: string): Executor {
  const config = settings.cluster.agent.executor;
  if (config.type === 'command') {
    return new CommandExecutor({ command: config.command, timeoutMs: config.timeoutSeconds * 1000, env });
  }
  const claude = { ...config, ...node.claude };
  const workspaces = new Workspaces({
    root: join(settings.dataDir, 'workspaces'),
    gitUrlTemplate: settings.gitUrlTemplate,
    author: claude.author,
    gitEnv: {
      ...gitEnv(env, settings.gitPushToken, credentialFile),
      // The local forge on the coordinator is verified against the cluster CA; GitHub against the system's.
      ...(settings.tlsCa && settings.gitUrlTemplate.startsWith(settings.coordinatorUrl) ? { GIT_SSL_CAINFO: settings.tlsCa } : {}),
    },
    keepFailedMs: claude.keepFailedHours * 3_600_000,
    log,
  });
  const cli = new ClaudeExecutor({ config: claude, env, reach, sessions: new SessionStore(join(settings.dataDir, 'claude-sessions')) });
  return new RepoExecutor(cli, workspaces, log, { keepWorkOnLimit: claude.keepWorkOnLimit, gitEnvFor: (pushToken) => gitEnv(env, pushToken) });
}

/** The cluster.yml each drill writes: the five shipped nodes, with timings and an executor chosen per drill. */

export const AGENTS = [
  { name: 'backend', ip: '192.168.56.11', specialties: ['backend', 'api', 'database', 'python'], capacity: 2 },
  { name: 'frontend', ip: '192.168.56.12', specialties: ['frontend', 'react', 'typescript', 'ui'], capacity: 2 },
  { name: 'testing', ip: '192.168.56.13', specialties: ['testing', 'qa', 'pytest', 'jest', 'e2e'], capacity: 2 },
  { name: 'devops', ip: '192.168.56.14', specialties: ['devops', 'docker', 'kubernetes', 'ci', 'infrastructure'], capacity: 2 },
] as const;

/** One label per agent, so a batch of tasks spreads over all four. */
export const SPECIALIST_LABELS = ['ccc:backend', 'ccc:frontend', 'ccc:testing', 'ccc:devops'] as const;

export interface Timings {
  maxAttempts?: number;
  leaseSeconds: number;
  heartbeatSeconds: number;
}

/** The command executor running `argv` per task (`{packageRoot}` is filled in by the agent). */
export function commandExecutor(argv: string[] = ['node', '{packageRoot}/scripts/demo-task.mjs']): Record<string, unknown> {
  return { type: 'command', command: argv, timeoutSeconds: 120 };
}

/** The real Claude Code CLI, with a short idle watchdog so a hung model is noticed within seconds. */
export function claudeExecutor(idleTimeoutSeconds: number): Record<string, unknown> {
  return {
    type: 'claude', maxTurns: 6, permissionMode: 'acceptEdits', allowedTools: ['Read', 'Write', 'Bash(git status:*)'],
    idleTimeoutSeconds, timeoutSeconds: 120,
  };
}

export function drillCluster(timings: Timings, executor: Record<string, unknown>): Record<string, unknown> {
  return {
    version: 1,
    coordinator: { name: 'coordinator', ip: '192.168.56.10', port: 8080 },
    agents: AGENTS,
    tasks: { maxAttempts: timings.maxAttempts ?? 3, retryBackoffSeconds: 0.1, leaseSeconds: timings.leaseSeconds, heartbeatSeconds: timings.heartbeatSeconds },
    routing: { fallbackAfterSeconds: 0 },
    agent: { drainTimeoutSeconds: 2, executor },
  };
}

/** `ccc status`: the cluster at a glance — where the coordinator is, agents by state, tasks by state, what runs now. */
import type { BudgetStatus } from '../../coordinator/budget/daily-budget.js';
import { TASK_STATES } from '../../coordinator/task-model.js';
import { EXIT, type AgentView, type ApiClient, type ExitCode, type Task, type TaskState } from './api-client.js';
import type { Connection } from './connection.js';
import { fields, json } from './format.js';
import type { Io } from './io.js';
import { tasksTable } from './tasks.js';

export interface ClusterStatus {
  coordinator: { url: string; urlSource: string };
  agents: Record<AgentView['state'], number>;
  tasks: Record<TaskState, number>;
  running: Task[];
  /** The daily budget (coordinators that report one). */
  budget?: BudgetStatus;
}

export async function clusterStatus(api: ApiClient, connection: Connection): Promise<ClusterStatus> {
  const [summary, running, assigned] = await Promise.all([
    api.get<{ tasks: Record<TaskState, number>; agents: Record<AgentView['state'], number>; budget?: BudgetStatus }>('/summary'),
    api.get<{ tasks: Task[] }>('/tasks?state=running'),
    api.get<{ tasks: Task[] }>('/tasks?state=assigned'),
  ]);
  return {
    coordinator: { url: connection.url, urlSource: connection.urlSource },
    agents: summary.agents,
    tasks: summary.tasks,
    running: [...running.tasks, ...assigned.tasks].sort((a, b) => a.id - b.id),
    ...(summary.budget ? { budget: summary.budget } : {}),
  };
}

export async function runStatus(api: ApiClient, connection: Connection, io: Io, opts: { json: boolean }): Promise<ExitCode> {
  const s = await clusterStatus(api, connection);
  if (opts.json) {
    io.out(json(s));
    return EXIT.ok;
  }
  const count = (state: TaskState) => `${s.tasks[state]} ${state}`;
  io.out(fields([
    ['coordinator', `${s.coordinator.url} (from ${s.coordinator.urlSource})`],
    ['agents', `${s.agents.online} online, ${s.agents.draining} draining, ${s.agents.offline} offline`],
    ['tasks', TASK_STATES.map(count).join(', ')],
    // Only when there is something to say: a limit, or money spent today.
    ...(s.budget && (s.budget.limitUsd !== null || s.budget.spentTodayUsd > 0) ? [['budget', budgetLine(s.budget)] as [string, string]] : []),
  ]));
  io.out(s.running.length ? `\n${tasksTable(s.running, io)}` : '\nno task is running\n');
  return EXIT.ok;
}

/** "$0.42 spent today of $5.00" and, while tasks wait, why. */
function budgetLine(b: BudgetStatus): string {
  const spent = `$${b.spentTodayUsd.toFixed(2)} spent today (${b.day} UTC)`;
  if (b.limitUsd === null) return `${spent}, no daily limit`;
  return b.waiting ? `${spent} of $${b.limitUsd.toFixed(2)}: NEW TASKS WAIT (${b.waiting})` : `${spent} of $${b.limitUsd.toFixed(2)}`;
}

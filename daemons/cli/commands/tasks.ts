/** `ccc tasks`, `ccc cancel <task>`, `ccc retry <task>`, `ccc approve <task>`. */
import { CliError, EXIT, type ApiClient, type ExitCode, type Task, type TaskState } from './api-client.js';
import { age, json, table } from './format.js';
import type { Io } from './io.js';

/** A task id from the command line: a positive whole number, else a usage error. */
export function parseTaskId(raw: unknown): number {
  const text = String(raw).replace(/^#/, '');
  if (!/^[1-9]\d*$/.test(text)) throw new CliError(`a task id is a positive whole number, such as 12 (got "${String(raw)}")`, EXIT.usage);
  return Number(text);
}

/** --limit: what the API accepts, else a usage error. */
export function parseLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > 5000) throw new CliError(`--limit must be a whole number from 1 to 5000 (got ${String(limit)})`, EXIT.usage);
  return limit;
}

export function tasksTable(tasks: readonly Task[], io: Io): string {
  const now = io.now();
  return table(withStepsUnderPlans(tasks), [
    { header: 'ID', cell: (t) => String(t.id), align: 'right' },
    { header: 'STATE', cell: (t) => t.state },
    { header: 'SPECIALTY', cell: specialtyCell },
    { header: 'AGENT', cell: (t) => t.agentId ?? (t.kind === 'plan' ? currentStep(t)?.agentId ?? '-' : '-') },
    { header: 'TRY', cell: (t) => (t.kind === 'plan' ? '-' : `${t.attempt}/${t.maxAttempts}`), align: 'right' },
    { header: 'AGE', cell: (t) => age(t.createdAt, now), align: 'right' },
    { header: 'TITLE', cell: (t) => t.title, flex: true },
  ], io.width);
}

/** Each plan followed by its steps (in step order); a step whose plan is not listed stands alone. */
function withStepsUnderPlans(tasks: readonly Task[]): Task[] {
  const listed = new Set(tasks.filter((t) => t.kind === 'plan').map((t) => t.id));
  const out: Task[] = [];
  for (const t of tasks) {
    if (t.planId != null && listed.has(t.planId)) continue;
    out.push(t);
    if (t.kind === 'plan') out.push(...tasks.filter((s) => s.planId === t.id).sort((a, b) => (a.stepIndex ?? 0) - (b.stepIndex ?? 0)));
  }
  return out;
}

/** `plan 2/4`: how many steps are done; a step: `└ 2 frontend`. */
function specialtyCell(t: Task): string {
  if (t.kind === 'plan') return `plan ${(t.steps ?? []).filter((s) => s.state === 'succeeded').length}/${t.steps?.length ?? 0}`;
  if (t.planId != null) return `└ ${(t.stepIndex ?? 0) + 1} ${t.specialty}`;
  return t.specialty;
}

/** `backend → frontend → …`: a plan's specialties in step order. */
export function stepOrder(plan: Task): string {
  return (plan.steps ?? []).map((s) => s.specialty).join(' → ');
}

/** The step a plan is at: the first one not done. */
export function currentStep(plan: Task): NonNullable<Task['steps']>[number] | undefined {
  return plan.steps?.find((s) => s.state !== 'succeeded');
}

export interface TasksOptions {
  state?: TaskState | undefined;
  agent?: string | undefined;
  limit: number;
  json: boolean;
}

export async function runTasks(api: ApiClient, io: Io, opts: TasksOptions): Promise<ExitCode> {
  const query = new URLSearchParams({ limit: String(opts.limit) });
  if (opts.state) query.set('state', opts.state);
  if (opts.agent) query.set('agent', opts.agent);
  const body = await api.get<{ tasks: Task[] }>(`/tasks?${query}`);
  if (opts.json) {
    io.out(json(body));
  } else if (body.tasks.length === 0) {
    io.out(`no tasks${opts.state ? ` ${opts.state}` : ''}${opts.agent ? ` on ${opts.agent}` : ''}\n`);
  } else {
    io.out(tasksTable(body.tasks, io));
    if (body.tasks.length === opts.limit) io.out(`(the newest ${opts.limit}; --limit shows more)\n`);
  }
  return EXIT.ok;
}

/** Cancel stops a queued or running task (its agent is told); retry queues a failed or cancelled one again. */
export async function runCancelOrRetry(api: ApiClient, io: Io, opts: { task: number; action: 'cancel' | 'retry'; json: boolean }): Promise<ExitCode> {
  const body = await api.post<{ task: Task }>(`/tasks/${opts.task}/${opts.action}`);
  const t = body.task;
  if (opts.json) io.out(json(body));
  else if (opts.action === 'cancel') io.out(`${t.kind === 'plan' ? 'plan' : 'task'} ${t.id} cancelled (ccc retry ${t.id} queues it again)\n`);
  else if (t.kind === 'plan') io.out(`plan ${t.id} goes on from step ${(currentStep(t)?.index ?? 0) + 1} (${currentStep(t)?.specialty ?? '?'}); the steps before it stay done (ccc logs ${t.id} -f to follow it)\n`);
  else io.out(`task ${t.id} queued again: ${t.maxAttempts - t.attempt} more attempts (ccc logs ${t.id} -f to follow it)\n`);
  return EXIT.ok;
}

/** A planner task's proposal becomes a plan. */
export async function runApprove(api: ApiClient, io: Io, opts: { task: number; json: boolean }): Promise<ExitCode> {
  const body = await api.post<{ task: Task }>(`/tasks/${opts.task}/approve`);
  const plan = body.task;
  if (opts.json) io.out(json(body));
  else io.out(`plan ${plan.id}: ${stepOrder(plan)} (ccc logs ${plan.id} -f to follow it)\n`);
  return EXIT.ok;
}

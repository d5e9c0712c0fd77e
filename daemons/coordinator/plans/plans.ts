/**
 * Runs plans: one issue, several specialists in turn, one branch. A plan is a
 * task row no agent runs; each of its steps is an ordinary task (attempts,
 * fencing, leases and drain as for any task), created only once the step
 * before it has succeeded, on the branch that step pushed. `advance` reads the
 * steps and does the one next thing in a transaction, so calling it again (after
 * any change, or at start-up after a crash) never creates a step twice.
 */
import type { Logger } from '../../shared/log.js';
import type { Task, TaskResult, TaskRow, TaskState } from '../task-model.js';
import type { NewTask, TaskStore } from '../task-store.js';
import { parsePlanSteps, type PlanStep } from './plan-steps.js';

export class Plans {
  constructor(
    private readonly store: TaskStore,
    private readonly opts: { log: Logger; schedule: () => void },
  ) {
    store.onChange((task) => {
      if (task.planId !== null) this.guard(task.planId, () => this.advance(task.planId!));
    });
  }

  /** After a restart: every unfinished plan takes its next step (a step that succeeded just before a crash hands on now). */
  resume(): void {
    for (const plan of this.store.openPlans()) this.guard(plan.id, () => this.advance(plan.id));
  }

  /** A plan of `steps` for the task `spec` describes, with its first step queued; in the caller's transaction if any. */
  create(spec: NewTask, steps: readonly PlanStep[]): Task {
    return this.store.inTransaction(() => {
      const order = steps.map((s) => s.specialty).join(' → ');
      const plan = this.store.create({ ...spec, kind: 'plan', planSteps: steps, specialty: 'plan', specialtyReason: `plan of ${steps.length} steps: ${order}` });
      this.advance(plan.id);
      return this.store.get(plan.id)!;
    });
  }

  /** Does the one next thing the plan needs: start a step, or bring the plan's own state in line with its steps. */
  advance(planId: number): void {
    const created = this.store.inTransaction(() => {
      const plan = this.store.get(planId);
      if (!plan || plan.kind !== 'plan') return false;
      const steps = this.store.stepsOf(planId);
      // A finished plan stays so, unless one of its steps was retried on its own (`ccc retry <step>`).
      if (isFinal(plan.state) && steps.every((s) => isFinal(s.state))) return false;
      const specs = plan.steps!;
      for (const view of specs) {
        const row = steps.find((s) => s.step_index === view.index);
        if (!row) {
          this.startStep(plan, view.index, steps);
          return true;
        }
        if (row.state === 'succeeded') {
          const branch = branchPushed(row);
          if (branch && !plan.branch) {
            this.store.continueBranch(planId, branch);
            plan.branch = branch; // the next step continues it
          }
          continue;
        }
        if (row.state === 'failed' || row.state === 'cancelled') {
          this.stop(plan, row, row.state);
          return false;
        }
        const state: TaskState = view.index === 0 && row.state === 'queued' && row.attempt === 0 ? 'queued' : 'running';
        this.store.setPlanState(planId, state, { kind: 'plan-running', message: `step ${view.index + 1} of ${specs.length} (${row.specialty}) is ${row.state}` });
        return false;
      }
      this.finish(plan, steps);
      return false;
    });
    if (created) this.opts.schedule();
  }

  private startStep(plan: Task, index: number, steps: readonly TaskRow[]): void {
    const all = parsePlanSteps(this.store.rowOf(plan.id)!.plan_steps);
    const step = all[index]!;
    const spec: NewTask = {
      title: plan.title, body: plan.body, labels: plan.labels, repo: plan.repo, source: plan.source, issueNumber: plan.issueNumber,
      specialty: step.specialty,
      specialtyReason: `step ${index + 1} of ${all.length} of plan ${plan.id} (${step.specialty}: ${step.goal})`,
      branch: plan.branch, context: plan.context, planId: plan.id, stepIndex: index,
    };
    const task = this.store.create(spec);
    const installation = this.store.rowOf(plan.id)!.installation_id;
    if (installation) this.store.setInstallation(task.id, installation);
    const previous = steps.find((s) => s.step_index === index - 1);
    const handedOver = previous ? ` after step ${index} (${previous.specialty}) on ${previous.agent_id}` : '';
    const message = `step ${index + 1} of ${all.length} (${step.specialty}) is task ${task.id}${handedOver}`;
    this.store.note(plan.id, 'plan-step', message);
    this.store.setPlanState(plan.id, index === 0 ? 'queued' : 'running', { kind: 'plan-running', message });
    this.opts.log.info({ planId: plan.id, taskId: task.id, step: index + 1, specialty: step.specialty }, 'plan step queued');
  }

  private stop(plan: Task, row: TaskRow, state: 'failed' | 'cancelled'): void {
    const step = `step ${row.step_index! + 1} (${row.specialty}, task ${row.id})`;
    const why = state === 'failed' ? `${step} failed: ${resultOf(row)?.summary ?? 'no result'}` : `${step} was cancelled`;
    const result: TaskResult = { ...planResult(this.store.stepsOf(plan.id)), outcome: state, summary: why, retryable: false };
    this.store.setPlanState(plan.id, state, { kind: state === 'failed' ? 'plan-stopped' : 'cancelled', message: `${why}; the plan stopped (\`ccc retry ${plan.id}\` goes on from this step)` }, result);
    this.opts.log.warn({ planId: plan.id, taskId: row.id, step: row.step_index! + 1 }, `plan stopped: ${why}`);
  }

  private finish(plan: Task, steps: readonly TaskRow[]): void {
    const result: TaskResult = { ...planResult(steps), outcome: 'succeeded', summary: `all ${steps.length} steps done: ${steps.map((s) => `${s.specialty} on ${s.agent_id}`).join(', ')}`, retryable: false };
    this.store.setPlanState(plan.id, 'succeeded', { kind: 'succeeded', message: result.summary }, result);
    this.opts.log.info({ planId: plan.id }, 'plan done');
  }

  private guard(planId: number, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.log.error({ planId, err: (err as Error).message }, 'could not advance the plan');
    }
  }
}

function isFinal(state: TaskState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled';
}

function resultOf(row: TaskRow): TaskResult | undefined {
  return row.result ? (JSON.parse(row.result) as TaskResult) : undefined;
}

function branchPushed(row: TaskRow): string | null {
  const r = resultOf(row);
  return r?.commit ? r.branch ?? null : null;
}

/** What a plan's result carries from its steps: the branch and last commit, turns and cost added up. */
function planResult(steps: readonly TaskRow[]): Omit<TaskResult, 'outcome' | 'summary' | 'retryable'> {
  const results = steps.map(resultOf).filter((r): r is TaskResult => r !== undefined);
  const pushed = results.filter((r) => r.commit);
  const last = pushed[pushed.length - 1];
  return {
    exitCode: null,
    durationMs: results.reduce((sum, r) => sum + r.durationMs, 0),
    branch: last?.branch ?? null, base: last?.base ?? null, commit: last?.commit ?? null,
    costUsd: results.reduce((sum, r) => sum + (r.costUsd ?? 0), 0),
    turns: results.reduce((sum, r) => sum + (r.turns ?? 0), 0),
  };
}

/**
 * `/ccc plan`: a planner run proposes a plan's steps. It is an ordinary task of
 * kind `planner` that any agent takes, with read-only tools; its answer must be
 * a JSON object `{"steps": [{"specialty", "goal"}]}` using the cluster's
 * specialties, checked against the same schema as every plan. The proposal is
 * shown on the issue and becomes a plan on `/ccc approve` (or at once when
 * cluster.yml says `routing.planApproval: auto`).
 */
import { CccError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Task } from '../task-model.js';
import type { NewTask, TaskStore } from '../task-store.js';
import { planStepsSchema, type PlanStep } from './plan-steps.js';
import type { Plans } from './plans.js';

export interface PlannerOptions {
  log: Logger;
  /** The specialties a proposal may use (those of cluster.yml's agents). */
  specialties: readonly string[];
  /** routing.planApproval: `auto` runs a valid proposal without waiting for `/ccc approve`. */
  autoApprove: boolean;
}

export const PLAN_INVALID = 'plan-invalid';
export const PLAN_APPROVED = 'plan-approved';

export class Planner {
  constructor(
    private readonly store: TaskStore,
    private readonly plans: Plans,
    private readonly opts: PlannerOptions,
  ) {
    store.onChange((task) => {
      if (task.kind === 'planner' && task.state === 'succeeded' && !task.proposal) this.guard(task.id, () => this.review(task.id));
    });
  }

  /** After a restart: answers that arrived just before it are read now. */
  resume(): void {
    for (const id of this.store.unreviewedPlanners()) this.guard(id, () => this.review(id));
  }

  /** A planner run for the issue or request `spec` describes. */
  propose(spec: Omit<NewTask, 'specialty' | 'specialtyReason'>): Task {
    return this.store.create({ ...spec, kind: 'planner', specialty: 'general', specialtyReason: 'a planner run (/ccc plan): any agent, read-only tools' });
  }

  /** Runs the proposal of planner task `id` as a plan; returns the plan. */
  approve(id: number, by: string): Task {
    return this.store.inTransaction(() => {
      const planner = this.store.get(id);
      if (!planner || planner.kind !== 'planner') throw new CccError(`task ${id} is not a planner run; \`/ccc plan\` (or POST /api/v1/tasks with "propose": true) starts one`, 'illegal_transition');
      const approved = this.store.events(id).find((e) => e.kind === PLAN_APPROVED);
      if (approved) throw new CccError(`the proposal of task ${id} was approved already: ${approved.message}`, 'illegal_transition');
      if (!planner.proposal) {
        const why = planner.state === 'succeeded' ? 'its answer was not a valid plan' : `it is ${planner.state}`;
        throw new CccError(`planner task ${id} has no proposal to approve (${why}); \`/ccc plan\` asks again`, 'illegal_transition');
      }
      const { title, body, labels, repo, source, issueNumber, context } = planner;
      const plan = this.plans.create({ title, body, labels, repo, source, issueNumber, context, specialty: 'plan', specialtyReason: '' }, planner.proposal);
      this.store.note(id, PLAN_APPROVED, `approved by ${by}: plan ${plan.id}`, true);
      this.opts.log.info({ taskId: id, planId: plan.id, by }, 'proposed plan approved');
      return plan;
    });
  }

  /** The newest planner run of an issue, if any. */
  latestFor(repo: string, issueNumber: number): Task | undefined {
    return this.store.latestOfKind(repo, issueNumber, 'planner');
  }

  private review(id: number): void {
    const task = this.store.get(id);
    if (!task || task.proposal) return;
    const parsed = parseProposal(task.result?.summary ?? '', this.opts.specialties);
    if ('problem' in parsed) {
      this.store.note(id, PLAN_INVALID, parsed.problem);
      this.opts.log.warn({ taskId: id, problem: parsed.problem }, 'the planner answered no valid plan');
      return;
    }
    this.store.setProposal(id, parsed.steps, `proposed: ${parsed.steps.map((s) => s.specialty).join(' → ')}`);
    if (this.opts.autoApprove) this.approve(id, 'cluster.yml (routing.planApproval: auto)');
  }

  private guard(id: number, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.log.error({ taskId: id, err: (err as Error).message }, 'could not review the planner run');
    }
  }
}

/**
 * The steps in a planner's answer: the first `{` to the last `}` as JSON, checked by the plan schema,
 * every specialty one the cluster has. Otherwise what is wrong, in words for the tracking comment.
 */
export function parseProposal(text: string, specialties: readonly string[]): { steps: PlanStep[] } | { problem: string } {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end < start) return { problem: 'the answer holds no JSON object' };
  let json: unknown;
  try {
    json = JSON.parse(text.slice(start, end + 1));
  } catch (err) {
    return { problem: `the answer's JSON does not parse: ${(err as Error).message}` };
  }
  const steps = planStepsSchema.safeParse((json as { steps?: unknown } | null)?.steps);
  if (!steps.success) return { problem: `the answer is not {"steps": [{"specialty", "goal"}, …]} with 2 to 8 steps: ${steps.error.issues.map((i) => `${['steps', ...i.path].join('.')}: ${i.message}`).slice(0, 3).join('; ')}` };
  const unknown = steps.data.filter((s) => !specialties.includes(s.specialty)).map((s) => s.specialty);
  if (unknown.length) return { problem: `no agent has ${unknown.join(', ')} (the cluster's specialties: ${specialties.join(', ')})` };
  return { steps: steps.data };
}

/**
 * What a plan is made of: its steps (a specialty and a one-line goal each), the
 * rule that turns an issue's `ccc:<specialty>` labels into steps in the order of
 * cluster.yml `routing.planOrder`, and each step's state as the API shows it.
 */
import { z } from 'zod';
import { specialtySchema } from '../../shared/names.js';
import { labelSpecialties } from '../classifier.js';
import type { PlanStepView, TaskResult, TaskRow } from '../task-model.js';

export const DEFAULT_PLAN_ORDER: readonly string[] = ['backend', 'frontend', 'testing', 'devops'];
/** More steps than this is not a plan a reviewer can follow. */
export const MAX_PLAN_STEPS = 8;

export const planStepSchema = z.strictObject({
  specialty: specialtySchema,
  goal: z.string().trim().min(1, 'is required').max(300).transform((g) => g.replace(/\s+/g, ' ')),
});
export const planStepsSchema = z.array(planStepSchema).min(2, 'a plan has at least two steps').max(MAX_PLAN_STEPS);
export type PlanStep = z.infer<typeof planStepSchema>;

/** The goal a step gets when nobody wrote one: the part of the issue its specialty does. */
const DEFAULT_GOALS: Readonly<Record<string, string>> = {
  backend: 'the server side: API, data and logic the issue needs',
  frontend: 'the user interface that uses what the earlier steps built',
  testing: 'tests that cover the work of the earlier steps',
  devops: 'build, CI and deployment for the work of the earlier steps',
};

/**
 * The steps of an issue or task with more than one `ccc:<specialty>` label, in
 * `planOrder` (specialties it does not name come after, in label order); undefined
 * when it names fewer than two, so it is an ordinary task.
 *
 * @example planFromLabels(['ccc', 'ccc:frontend', 'ccc:backend']) // backend, then frontend
 */
export function planFromLabels(labels: readonly string[], planOrder: readonly string[] = DEFAULT_PLAN_ORDER): PlanStep[] | undefined {
  const named = [...new Set(labelSpecialties(labels))];
  if (named.length < 2) return undefined;
  const rank = (s: string) => (planOrder.includes(s) ? planOrder.indexOf(s) : planOrder.length + named.indexOf(s));
  return named.sort((a, b) => rank(a) - rank(b)).slice(0, MAX_PLAN_STEPS)
    .map((specialty) => ({ specialty, goal: DEFAULT_GOALS[specialty] ?? `the ${specialty} part of the issue` }));
}

/** Each specialty once, those `planOrder` names first in its order, then the rest as given. */
export function orderedSpecialties(specialties: readonly string[], planOrder: readonly string[]): string[] {
  const unique = [...new Set(specialties)];
  return [...planOrder.filter((s) => unique.includes(s)), ...unique.filter((s) => !planOrder.includes(s))];
}

export function parsePlanSteps(json: string | null): PlanStep[] {
  return json ? (JSON.parse(json) as PlanStep[]) : [];
}

/** Each step of `plan` with the state of its task (`pending` before it has one). */
export function stepViews(plan: Pick<TaskRow, 'plan_steps'>, stepRows: readonly TaskRow[]): PlanStepView[] {
  return parsePlanSteps(plan.plan_steps).map((step, index) => {
    const row = stepRows.find((r) => r.step_index === index);
    const result = row?.result ? (JSON.parse(row.result) as TaskResult) : undefined;
    return {
      index, specialty: step.specialty, goal: step.goal,
      state: row?.state ?? 'pending',
      taskId: row?.id ?? null,
      agentId: row?.agent_id ?? null,
      attempt: row?.attempt ?? 0,
      commit: result?.commit ?? null,
      costUsd: result?.costUsd ?? null,
      turns: result?.turns ?? null,
      summary: result?.summary ?? null,
    };
  });
}

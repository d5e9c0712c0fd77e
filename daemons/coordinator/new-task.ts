/** The specialty a new task needs and the reason recorded for it: one rule for the API and for GitHub issues. */
import type { Settings } from '../shared/config.js';
import { GENERAL, chooseSpecialty, type TaskText } from './classifier.js';
import { planFromLabels } from './plans/plan-steps.js';
import type { Plans } from './plans/plans.js';
import type { Task } from './task-model.js';
import type { NewTask, TaskStore } from './task-store.js';

export interface SpecialtyPolicy {
  /** cluster.yml `routing.keywords`; undefined = the classifier's defaults. */
  keywords: Readonly<Record<string, readonly string[]>> | undefined;
  /** Every specialty some agent of cluster.yml has. */
  clusterSpecialties: ReadonlySet<string>;
  /** Whether routing falls back to any agent after a wait. */
  fallback: boolean;
  /** cluster.yml `routing.planOrder`: the order of a plan's steps. */
  planOrder: readonly string[];
}

export function specialtyPolicy(settings: Settings): SpecialtyPolicy {
  const { agents, routing } = settings.cluster;
  return {
    keywords: routing.keywords,
    clusterSpecialties: new Set(agents.flatMap((a) => a.specialties)),
    fallback: routing.fallbackAfterSeconds > 0,
    planOrder: routing.planOrder,
  };
}

/**
 * Label, keywords or `general` (see classifier.ts), with a reason that says
 * so when no agent of cluster.yml can take the task yet.
 *
 * @example store.create({ ...spec, ...taskSpecialty(spec, policy) })
 */
export function taskSpecialty(text: TaskText, policy: SpecialtyPolicy): { specialty: string; specialtyReason: string } {
  const choice = chooseSpecialty(text, policy.keywords);
  const unstaffed = choice.specialty !== GENERAL && !policy.clusterSpecialties.has(choice.specialty);
  const specialtyReason = unstaffed
    ? `${choice.reason} (no agent in cluster.yml has ${choice.specialty}: it waits for one${policy.fallback ? ', then falls back to any agent' : '; routing.fallbackAfterSeconds would let any agent take it'})`
    : choice.reason;
  return { specialty: choice.specialty, specialtyReason };
}

/**
 * The work a request or an issue becomes: a plan when its labels name more than one specialty
 * (and no specialty was asked for outright), else one task. One rule for the API and GitHub.
 */
export function createWork(store: TaskStore, plans: Plans, spec: Omit<NewTask, 'specialty' | 'specialtyReason'> & TaskText, policy: SpecialtyPolicy): Task {
  const steps = spec.specialty ? undefined : planFromLabels(spec.labels, policy.planOrder);
  const { specialty: _asked, ...rest } = spec;
  if (steps) return plans.create({ ...rest, specialty: 'plan', specialtyReason: '' }, steps);
  return store.create({ ...rest, ...taskSpecialty(spec, policy) });
}

/**
 * The rehearsal model's answer to a planner run (`Specialty: planner`): a plan
 * as JSON, using the specialties the prompt offers. Those the title or body
 * name come first in the offered order; when fewer than two are named, the
 * first four offered make the plan.
 */
import type { TaskPrompt } from './prompt.js';

const GOALS: Readonly<Record<string, string>> = {
  backend: 'the API and data behind',
  frontend: 'the page or component for',
  testing: 'tests that cover',
  devops: 'the pipeline and deployment of',
};

export function plannerAnswer(task: TaskPrompt): string {
  const offered = task.specialties?.length ? task.specialties : ['backend', 'frontend'];
  const words = new Set(`${task.title} ${task.body}`.toLowerCase().match(/[a-z][a-z0-9-]*/g) ?? []);
  const named = offered.filter((s) => words.has(s));
  const chosen = (named.length >= 2 ? named : offered).slice(0, 4);
  const title = task.title.replace(/\s+/g, ' ').slice(0, 200);
  const steps = chosen.map((specialty) => ({ specialty, goal: `${GOALS[specialty] ?? `the ${specialty} part of`} "${title}"` }));
  return JSON.stringify({ steps });
}

/** The cost cap of one run (`--max-budget-usd`), from agent.executor.maxBudgetUsd. */
import type { ClaudeExecutorConfig } from '../shared/cluster-schema.js';

/**
 * The run's budget in US dollars: one amount for every specialty, or the specialty's own, else `default`.
 *
 * @example maxBudgetFor('devops', { default: 1, devops: 3 }) // 3
 */
export function maxBudgetFor(specialty: string, budget: ClaudeExecutorConfig['maxBudgetUsd']): number | undefined {
  return typeof budget === 'number' ? budget : budget?.[specialty] ?? budget?.default;
}

/** The CLI arguments that set it, none when there is no budget. */
export function budgetArgs(specialty: string, budget: ClaudeExecutorConfig['maxBudgetUsd']): string[] {
  const usd = maxBudgetFor(specialty, budget);
  return usd === undefined ? [] : ['--max-budget-usd', String(usd)];
}

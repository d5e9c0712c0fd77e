/**
 * The cluster's daily model budget (tasks.dailyBudgetUsd): once the UTC day's spent cost reaches it,
 * queued tasks wait, with a reason on each task, until the day rolls over or the limit is raised
 * (in cluster.yml, then a coordinator restart). Running tasks finish; their cost still counts.
 */
import type { CostCounters } from './cost-counters.js';
import { utcDay } from './cost-counters.js';

/** Every reason this file gives starts so, so the scheduler can tell a budget wait from others. */
export const BUDGET_WAIT = 'waiting for the daily budget';

export interface BudgetStatus {
  /** tasks.dailyBudgetUsd, or null when there is none. */
  limitUsd: number | null;
  spentTodayUsd: number;
  /** The UTC day the figures are for. */
  day: string;
  /** Why new tasks wait, or null when they may start. */
  waiting: string | null;
}

export class DailyBudget {
  constructor(
    private readonly costs: CostCounters,
    private readonly limitUsd: number | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** Why queued tasks may not start now, or null. */
  blocked(): string | null {
    return this.status().waiting;
  }

  status(): BudgetStatus {
    const now = this.now();
    const spent = this.costs.spentOn(now);
    const day = utcDay(now);
    const limit = this.limitUsd ?? null;
    const waiting = limit !== null && spent >= limit
      ? `${BUDGET_WAIT}: $${spent.toFixed(2)} of the $${limit.toFixed(2)} of tasks.dailyBudgetUsd is spent today (${day} UTC); ` +
        'new tasks start at 00:00 UTC, or when tasks.dailyBudgetUsd is raised in cluster.yml and the coordinator restarted'
      : null;
    return { limitUsd: limit, spentTodayUsd: spent, day, waiting };
  }
}

import { describe, expect, it } from 'vitest';
import { budgetArgs, maxBudgetFor } from '../../daemons/agent/budget.js';
import { ClaudeExecutor } from '../../daemons/agent/claude-executor.js';
import { claudeExecutorSchema } from '../../daemons/shared/cluster-schema.js';

describe('--max-budget-usd', () => {
  it('takes one amount, or the specialty\'s own, else default, else none', () => {
    expect(maxBudgetFor('backend', 2)).toBe(2);
    expect(maxBudgetFor('devops', { default: 1, devops: 3 })).toBe(3);
    expect(maxBudgetFor('backend', { default: 1, devops: 3 })).toBe(1);
    expect(maxBudgetFor('backend', { devops: 3 })).toBeUndefined();
    expect(budgetArgs('backend', undefined)).toEqual([]);
    expect(budgetArgs('devops', { devops: 0.25 })).toEqual(['--max-budget-usd', '0.25']);
  });

  it('reaches the CLI arguments from the profile, and the schema refuses a budget that is not positive', () => {
    const config = claudeExecutorSchema.parse({ type: 'claude', maxBudgetUsd: { default: 0.5, frontend: 2 } });
    const cli = new ClaudeExecutor({ config, home: '/tmp/none', env: {}, anthropicBaseUrl: undefined });
    const task = { title: 't', body: '', labels: [], repo: null, issueNumber: null };
    const args = (specialty: string) => cli.args({ taskId: 1, attempt: 1, workDir: '/tmp', task: { ...task, specialty } }, 'sid');
    expect(args('frontend').join(' ')).toContain('--max-budget-usd 2');
    expect(args('backend').join(' ')).toContain('--max-budget-usd 0.5');
    expect(claudeExecutorSchema.safeParse({ type: 'claude', maxBudgetUsd: 0 }).success).toBe(false);
    expect(claudeExecutorSchema.safeParse({ type: 'claude', maxBudgetUsd: { devops: -1 } }).success).toBe(false);
  });
});

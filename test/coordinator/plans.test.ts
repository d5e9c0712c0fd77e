/**
 * Plans over a real SQLite file with the real TaskStore and scheduler-free
 * agents (the store's own assign/started/finish calls): steps run in order on
 * one branch, a failed step stops the plan and a retry goes on from it, cancel
 * stops the step under way, and a coordinator that stops between a step's
 * success and the next step's creation creates that step exactly once.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../daemons/coordinator/db.js';
import { planFromLabels } from '../../daemons/coordinator/plans/plan-steps.js';
import { Plans } from '../../daemons/coordinator/plans/plans.js';
import { Planner, parseProposal } from '../../daemons/coordinator/plans/planner.js';
import type { TaskResult } from '../../daemons/coordinator/task-model.js';
import { TaskStore, type NewTask } from '../../daemons/coordinator/task-store.js';
import { memoryLogger, onCleanup, tempDir } from '../helpers.js';

const POLICY = { maxAttempts: 2, retryBackoffMs: 0 };
const STEPS = planFromLabels(['ccc', 'ccc:devops', 'ccc:testing', 'ccc:frontend', 'ccc:backend'])!;

function open(file: string) {
  const db = openDb(file);
  onCleanup(() => { if (db.open) db.close(); });
  const store = new TaskStore(db, POLICY);
  const scheduled: number[] = [];
  const plans = new Plans(store, { log: memoryLogger().log, schedule: () => scheduled.push(1) });
  return { db, store, plans, scheduled };
}

function spec(): Omit<NewTask, 'specialty' | 'specialtyReason'> & { specialty: string; specialtyReason: string } {
  return { title: 'Add a /health endpoint and a status page', body: 'with tests and CI', labels: ['ccc'], repo: 'acme/web', issueNumber: 12, source: 'github', specialty: 'plan', specialtyReason: '' };
}

/** Plays the agent of the plan's current step: assign, start, finish with `result`. */
function runStep(store: TaskStore, planId: number, result: Partial<TaskResult> = {}): { taskId: number; specialty: string } {
  const step = store.stepsOf(planId).find((s) => s.state === 'queued')!;
  expect(step, `a queued step of plan ${planId}`).toBeDefined();
  const agent = `${step.specialty}-1`;
  const attempt = store.assign(step.id, agent, 'test', 60_000);
  store.started({ taskId: step.id, attempt }, agent);
  const commit = `${step.step_index}`.repeat(40);
  store.finish({ taskId: step.id, attempt }, agent, {
    outcome: 'succeeded', summary: `${step.specialty} done`, retryable: false, exitCode: 0, durationMs: 10,
    branch: 'ccc/12-add-a-health-endpoint', base: 'main', commit, costUsd: 0.01, turns: 3, ...result,
  });
  return { taskId: step.id, specialty: step.specialty };
}

describe('plans', () => {
  it('labels name the steps in routing.planOrder; one label is no plan', () => {
    expect(STEPS.map((s) => s.specialty)).toEqual(['backend', 'frontend', 'testing', 'devops']);
    expect(planFromLabels(['ccc', 'ccc:frontend', 'ccc:backend'], ['frontend', 'backend'])!.map((s) => s.specialty)).toEqual(['frontend', 'backend']);
    expect(planFromLabels(['ccc', 'ccc:backend', 'ccc:running'])).toBeUndefined();
  });

  it('runs four steps in order on the branch the first one pushed, and ends with the steps summed', () => {
    const { store, plans } = open(join(tempDir(), 'db.sqlite'));
    const plan = plans.create(spec(), STEPS);
    expect(plan).toMatchObject({ kind: 'plan', state: 'queued', specialty: 'plan' });
    expect(store.dispatchable(10).map((r) => r.plan_id)).toEqual([plan.id]); // only the first step, never the plan row
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      order.push(runStep(store, plan.id).specialty);
      const next = store.stepsOf(plan.id)[i + 1];
      if (next) expect(next.branch).toBe('ccc/12-add-a-health-endpoint');
    }
    expect(order).toEqual(['backend', 'frontend', 'testing', 'devops']);
    const done = store.get(plan.id)!;
    expect(done.state).toBe('succeeded');
    expect(done.steps!.map((s) => [s.state, s.agentId])).toEqual([['succeeded', 'backend-1'], ['succeeded', 'frontend-1'], ['succeeded', 'testing-1'], ['succeeded', 'devops-1']]);
    expect(done.result).toMatchObject({ outcome: 'succeeded', commit: '3'.repeat(40), turns: 12 });
    expect(done.result!.costUsd).toBeCloseTo(0.04);
    // The totals count the four steps, not the plan as a fifth task.
    expect(store.countsByState()).toMatchObject({ succeeded: 4, running: 0, queued: 0 });
  });

  it('a failed step stops the plan; retrying the plan runs that step again and not the ones before it', () => {
    const { store, plans } = open(join(tempDir(), 'db.sqlite'));
    const plan = plans.create(spec(), STEPS);
    const first = runStep(store, plan.id);
    const failed = { outcome: 'failed' as const, summary: 'the page does not build', retryable: false, commit: null, branch: null };
    const second = runStep(store, plan.id, failed);
    expect(store.get(plan.id)).toMatchObject({ state: 'failed', result: { summary: expect.stringContaining('step 2 (frontend') } });
    expect(store.stepsOf(plan.id)).toHaveLength(2); // nothing after the failed step was started
    const retried = store.retry(plan.id, 'operator');
    expect(retried.steps!.map((s) => s.state)).toEqual(['succeeded', 'queued', 'pending', 'pending']);
    expect(store.get(first.taskId)!.attempt).toBe(1);
    expect(runStep(store, plan.id).taskId).toBe(second.taskId); // the same step's task, a new attempt
    runStep(store, plan.id);
    runStep(store, plan.id);
    expect(store.get(plan.id)!.state).toBe('succeeded');
    expect(store.get(first.taskId)!.attempt).toBe(1);
    expect(store.get(second.taskId)!.attempt).toBe(2);
  });

  it('cancelling the plan cancels the step under way and tells its agent', () => {
    const { store, plans } = open(join(tempDir(), 'db.sqlite'));
    const plan = plans.create(spec(), STEPS);
    runStep(store, plan.id);
    const step = store.stepsOf(plan.id)[1]!;
    const attempt = store.assign(step.id, 'frontend-1', 'test', 60_000);
    const { task, revoked } = store.cancel(plan.id, 'operator');
    expect(task.state).toBe('cancelled');
    expect(revoked).toEqual({ agentId: 'frontend-1', taskId: step.id, attempt });
    expect(store.get(step.id)!.state).toBe('cancelled');
    expect(store.dispatchable(10)).toEqual([]);
  });

  it('after a stop between a step succeeding and the next being created, resume creates the next step once', () => {
    const file = join(tempDir(), 'db.sqlite');
    const a = open(file);
    const plan = a.plans.create(spec(), STEPS);
    // The step succeeds in a store whose plans never heard of it (as if the process died right after the commit).
    a.db.close();
    const bare = new TaskStore(openDb(file), POLICY);
    runStep(bare, plan.id);
    expect(bare.stepsOf(plan.id)).toHaveLength(1);
    const b = open(file);
    b.plans.resume();
    b.plans.resume();
    expect(b.store.stepsOf(plan.id).map((s) => [s.specialty, s.state])).toEqual([['backend', 'succeeded'], ['frontend', 'queued']]);
    expect(b.scheduled.length).toBeGreaterThan(0);
  });

  it('a step that needs another attempt keeps the plan running, and its events say which step', () => {
    const { store, plans } = open(join(tempDir(), 'db.sqlite'));
    const plan = plans.create(spec(), STEPS);
    runStep(store, plan.id, { outcome: 'failed', summary: 'model overloaded', retryable: true });
    expect(store.get(plan.id)!.state).toBe('running');
    expect(store.events(plan.id).map((e) => e.kind)).toContain('plan-step');
  });

  it('a planner answer is a plan only when it is the JSON shape, 2 to 8 steps, every specialty one the cluster has', () => {
    const cluster = ['backend', 'frontend', 'testing'];
    expect(parseProposal('Here it is:\n{"steps":[{"specialty":"backend","goal":"API"},{"specialty":"frontend","goal":" the\\n page "}]}\nDone.', cluster))
      .toEqual({ steps: [{ specialty: 'backend', goal: 'API' }, { specialty: 'frontend', goal: 'the page' }] });
    expect(parseProposal('I would start with the API.', cluster)).toEqual({ problem: 'the answer holds no JSON object' });
    expect(parseProposal('{"steps": [', cluster)).toEqual({ problem: 'the answer holds no JSON object' });
    expect(parseProposal('{"steps": [}', cluster)).toMatchObject({ problem: expect.stringMatching(/^the answer's JSON does not parse/) });
    expect(parseProposal('{"steps":[{"specialty":"backend","goal":"API"}]}', cluster)).toMatchObject({ problem: expect.stringContaining('at least two steps') });
    expect(parseProposal('{"steps":[{"specialty":"backend","goal":"API"},{"specialty":"devops","goal":"CI"}]}', cluster))
      .toEqual({ problem: "no agent has devops (the cluster's specialties: backend, frontend, testing)" });
    expect(parseProposal('{"steps":[{"specialty":"Backend!","goal":"API"},{"specialty":"frontend","goal":""}]}', cluster)).toMatchObject({ problem: expect.stringContaining('steps.0.specialty') });
  });

  it('a planner run\'s proposal is kept; approving it makes the plan once; an answer that is no plan says why', () => {
    const { store, plans } = open(join(tempDir(), 'db.sqlite'));
    const planner = new Planner(store, plans, { log: memoryLogger().log, specialties: ['backend', 'frontend'], autoApprove: false });
    const answer = (text: string) => {
      const task = planner.propose({ title: 'Status page', body: '', labels: [], repo: 'acme/web', issueNumber: 3, source: 'github' });
      const attempt = store.assign(task.id, 'testing-1', 'test', 60_000);
      store.finish({ taskId: task.id, attempt }, 'testing-1', { outcome: 'succeeded', summary: text, retryable: false, exitCode: 0, durationMs: 5 });
      return store.get(task.id)!;
    };
    const bad = answer('no idea');
    expect(bad.proposal).toBeUndefined();
    expect(store.events(bad.id).at(-1)).toMatchObject({ kind: 'plan-invalid', message: 'the answer holds no JSON object' });
    expect(() => planner.approve(bad.id, 'operator')).toThrow(/has no proposal to approve \(its answer was not a valid plan\)/);
    const good = answer('{"steps":[{"specialty":"frontend","goal":"page"},{"specialty":"backend","goal":"API"}]}');
    expect(good.proposal).toEqual([{ specialty: 'frontend', goal: 'page' }, { specialty: 'backend', goal: 'API' }]);
    expect(planner.latestFor('acme/web', 3)!.id).toBe(good.id);
    const plan = planner.approve(good.id, 'operator');
    expect(plan.steps!.map((s) => s.specialty)).toEqual(['frontend', 'backend']); // the proposal's order, not planOrder
    expect(() => planner.approve(good.id, 'operator')).toThrow(/approved already: approved by operator: plan/);
  });

  it('routing.planApproval auto: a valid proposal runs at once', () => {
    const { store, plans } = open(join(tempDir(), 'db.sqlite'));
    const planner = new Planner(store, plans, { log: memoryLogger().log, specialties: ['backend', 'frontend'], autoApprove: true });
    const task = planner.propose({ title: 'Status page', body: '', labels: [], repo: 'acme/web', issueNumber: 4, source: 'github' });
    const attempt = store.assign(task.id, 'backend-1', 'test', 60_000);
    store.finish({ taskId: task.id, attempt }, 'backend-1', { outcome: 'succeeded', summary: '{"steps":[{"specialty":"backend","goal":"a"},{"specialty":"frontend","goal":"b"}]}', retryable: false, exitCode: 0, durationMs: 5 });
    expect(store.events(task.id).map((e) => e.kind)).toEqual(expect.arrayContaining(['plan-proposed', 'plan-approved']));
    expect(store.forIssue('acme/web', 4)).toMatchObject({ kind: 'plan', state: 'queued' });
  });
});

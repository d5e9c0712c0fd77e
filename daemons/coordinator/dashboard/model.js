// What the dashboard knows: the agents, the tasks (newest few hundred plus
// every unfinished one) and the output tail of each active task, kept up to
// date from the snapshot and the live stream's messages.

/** Recent tasks loaded with each snapshot (unfinished ones are always loaded). */
export const RECENT_TASKS = 500;
/** Output lines kept per task; the tail box scrolls through these. */
const TAIL_EVENTS = 300;
const ACTIVE = new Set(['assigned', 'running']);
const FINAL = new Set(['succeeded', 'failed', 'cancelled']);
const TAIL_KINDS = new Set(['progress', 'progress-truncated']);

/** The step a plan is at: the first one not done. */
export function currentStep(plan) {
  return plan.steps?.find((s) => s.state !== 'succeeded');
}

export class Model {
  constructor() {
    /** @type {Array<{id: string, hostname: string, specialties: string[], capacity: number, running: number, state: string, lastSeenAt: string}>} */
    this.agents = [];
    /** @type {Map<number, any>} task id → Task */
    this.tasks = new Map();
    /** @type {Map<number, Array<{id: number, attempt: number, kind: string, message: string}>>} */
    this.tails = new Map();
  }

  /** Replaces everything with a fresh snapshot; tails of tasks still active are kept and merged. */
  reset(agents, tasks) {
    this.agents = agents;
    const old = this.tasks;
    this.tasks = new Map();
    for (const task of tasks) this.putTask(task, old.get(task.id));
    for (const id of [...this.tails.keys()]) if (!ACTIVE.has(this.tasks.get(id)?.state)) this.tails.delete(id);
  }

  setAgents(agents) {
    this.agents = agents;
  }

  /** A task as the stream or the API sent it. A pull request, once known, is never lost to an older copy. */
  putTask(task, previous = this.tasks.get(task.id)) {
    const pullRequest = task.pullRequest ?? previous?.pullRequest ?? null;
    this.tasks.set(task.id, { ...task, pullRequest });
    if (FINAL.has(task.state)) this.tails.delete(task.id);
  }

  /** One entry of a task's history. Returns true when the task itself should be fetched again (a pull request was opened). */
  addEvent(event) {
    if (event.kind === 'pull-request') return true;
    if (!TAIL_KINDS.has(event.kind)) return false;
    if (FINAL.has(this.tasks.get(event.taskId)?.state)) return false;
    const tail = this.tails.get(event.taskId) ?? [];
    if (tail.some((e) => e.id === event.id)) return false;
    tail.push({ id: event.id, attempt: event.attempt, kind: event.kind, message: event.message });
    tail.sort((a, b) => a.id - b.id);
    if (tail.length > TAIL_EVENTS) tail.splice(0, tail.length - TAIL_EVENTS);
    this.tails.set(event.taskId, tail);
    return false;
  }

  /** The output lines of the task's current attempt; for a plan, those of the step it is at. */
  tailOf(task) {
    const step = task.kind === 'plan' ? this.tasks.get(currentStep(task)?.taskId) : undefined;
    if (step) return this.tailOf(step);
    return (this.tails.get(task.id) ?? []).filter((e) => e.attempt === task.attempt);
  }

  queue() {
    return this.#select((t) => t.state === 'queued').sort((a, b) => a.id - b.id);
  }

  running() {
    return this.#select((t) => ACTIVE.has(t.state)).sort((a, b) => a.id - b.id);
  }

  finished() {
    return this.#select((t) => FINAL.has(t.state)).sort((a, b) => b.updatedAt.localeCompare(a.updatedAt) || b.id - a.id);
  }

  /** Tasks an agent holds now, counted from the tasks (the agent list is only sent when agents change). */
  load(agentId) {
    return [...this.tasks.values()].filter((t) => ACTIVE.has(t.state) && t.agentId === agentId).length;
  }

  /** Sum of what the Claude Code CLI reported for the loaded tasks, in US dollars. */
  cost() {
    let sum = 0;
    for (const t of this.tasks.values()) if (t.kind !== 'plan') sum += t.result?.costUsd ?? 0; // a plan's cost is its steps'
    return sum;
  }

  count(state) {
    return this.#select((t) => t.state === state).length;
  }

  /** A plan's steps are shown on its card, not as tasks of their own. */
  #select(keep) {
    return [...this.tasks.values()].filter((t) => t.planId == null && keep(t));
  }
}

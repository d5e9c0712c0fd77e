/**
 * `ccc logs <task> [-f]`: a task's history; with -f, then its live events
 * until it is final (exit 0 if it succeeded, 1 otherwise). Subscribing before
 * reading the history, and skipping event ids already shown, means no event is
 * lost or shown twice, also across a reconnect after a coordinator restart.
 */
import { readSse } from '../../shared/sse-client.js';
import { CliError, EXIT, FINAL_STATES, unreachable, type ApiClient, type ExitCode, type Task, type TaskEvent, type TaskWithEvents } from './api-client.js';
import { clock, dateTime } from './format.js';
import type { Io } from './io.js';

/** The coordinator sends a keepalive every 15 s; this long without a byte means the connection is dead. */
const STREAM_IDLE_MS = 45_000;
/** How long -f keeps trying to reconnect to a coordinator that went away. */
const RECONNECT_FOR_MS = 30_000;

export interface LogsOptions {
  task: number;
  follow: boolean;
  json: boolean;
}

export async function runLogs(api: ApiClient, io: Io, opts: LogsOptions): Promise<ExitCode> {
  const printer = new EventPrinter(io, opts.json);
  if (!opts.follow) {
    const { task } = await api.get<{ task: TaskWithEvents }>(`/tasks/${opts.task}`);
    printer.header(task);
    printer.events(task.events);
    return EXIT.ok;
  }
  return follow(api, io, opts.task, printer);
}

async function follow(api: ApiClient, io: Io, id: number, printer: EventPrinter): Promise<ExitCode> {
  let lostSince: number | undefined;
  for (let attempt = 0; ; attempt++) {
    const abort = new AbortController();
    let reason: string;
    try {
      const stream = await api.stream(`/events?task=${id}`, abort.signal);
      const final = await catchUp(api, id, printer);
      if (final !== undefined) return final;
      if (lostSince !== undefined) io.err('ccc: live stream back\n');
      lostSince = undefined;
      attempt = 0;
      reason = 'the coordinator closed the stream';
      try {
        for await (const m of readSse(watched(stream, abort))) {
          if (m.event === 'task-event') printer.events([JSON.parse(m.data) as TaskEvent]);
          const announced = m.event === 'task' ? (JSON.parse(m.data) as Task) : undefined;
          if (announced) printer.steps(announced);
          const state = announced?.state;
          if (state && FINAL_STATES.includes(state)) {
            // The last history entries may still be on their way: read them from the store.
            // (If an operator retried it meanwhile, the state this message announced still decides.)
            return (await catchUp(api, id, printer)) ?? (state === 'succeeded' ? EXIT.ok : EXIT.failed);
          }
        }
      } catch (err) {
        reason = abort.signal.aborted ? `nothing received for ${STREAM_IDLE_MS / 1000} s` : String((err as Error).message ?? err);
      }
    } catch (err) {
      // 401, 404 and the like will not change by retrying; only a coordinator that was there and went away might.
      if (!(err instanceof CliError) || err.exitCode !== EXIT.unreachable || !printer.started) throw err;
      reason = err.reason;
    } finally {
      abort.abort();
    }
    const now = io.now();
    if (lostSince === undefined) {
      lostSince = now;
      io.err(`ccc: lost the live stream of task ${id} (${reason}); reconnecting\n`);
    } else if (now - lostSince > RECONNECT_FOR_MS) {
      throw unreachable(api.url, `${reason}, for more than ${RECONNECT_FOR_MS / 1000} s while following task ${id}`);
    }
    await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 5000)));
  }
}

/** Prints history entries not shown yet; when the task is final, the exit code for it. */
async function catchUp(api: ApiClient, id: number, printer: EventPrinter): Promise<ExitCode | undefined> {
  const { task } = await api.get<{ task: TaskWithEvents }>(`/tasks/${id}`);
  printer.header(task);
  printer.events(task.events);
  if (!FINAL_STATES.includes(task.state)) return undefined;
  return task.state === 'succeeded' ? EXIT.ok : EXIT.failed;
}

/** Passes the stream through, aborting it when no byte (not even a keepalive) arrives for STREAM_IDLE_MS. */
function watched(stream: ReadableStream<Uint8Array>, abort: AbortController): ReadableStream<Uint8Array> {
  let timer = setTimeout(() => abort.abort(), STREAM_IDLE_MS);
  abort.signal.addEventListener('abort', () => clearTimeout(timer));
  return stream.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      clearTimeout(timer);
      timer = setTimeout(() => abort.abort(), STREAM_IDLE_MS);
      controller.enqueue(chunk);
    },
    flush() {
      clearTimeout(timer);
    },
  }));
}

/** Writes each event once (by id), as a readable line or, with --json, as one JSON object per line. */
class EventPrinter {
  private lastId = 0;
  private headed = false;
  private stepStates = new Map<number, string>();

  /** True once the task was read: from then on, a lost coordinator is waited for. */
  get started(): boolean {
    return this.headed || this.lastId > 0;
  }

  constructor(private readonly io: Io, private readonly asJson: boolean) {}

  header(task: Task): void {
    if (this.headed || this.asJson) return;
    this.headed = true;
    const where = task.agentId ? ` on ${task.agentId}` : '';
    this.io.out(`task ${task.id}: ${task.title}\n`);
    const how = task.kind === 'plan' ? `a plan of ${task.steps?.length ?? 0} steps` : `attempt ${task.attempt} of ${task.maxAttempts}, specialty ${task.specialty}`;
    this.io.out(`${task.state}${where}, ${how}, created ${dateTime(task.createdAt)}\n`);
    if (task.pullRequest) this.io.out(`pull request #${task.pullRequest.number}: ${task.pullRequest.url}\n`);
    if (task.planId != null) this.io.out(`step ${(task.stepIndex ?? 0) + 1} of plan ${task.planId} (ccc logs ${task.planId} shows the plan)\n`);
    for (const s of task.steps ?? []) this.io.out(`  ${stepLine(s)}\n`);
    this.stepStates = new Map((task.steps ?? []).map((s) => [s.index, s.state]));
  }

  /** With -f on a plan: a line each time one of its steps changes state. */
  steps(task: Task): void {
    if (this.asJson || !task.steps) return;
    for (const s of task.steps) {
      if (this.stepStates.get(s.index) === s.state) continue;
      this.stepStates.set(s.index, s.state);
      this.io.out(`${clock(new Date(this.io.now()).toISOString())}  ${'step'.padEnd(KIND_WIDTH)} ${stepLine(s)}\n`);
    }
  }

  events(events: readonly TaskEvent[]): void {
    for (const e of events) {
      if (e.id <= this.lastId) continue;
      this.lastId = e.id;
      this.io.out(this.asJson ? `${JSON.stringify(e)}\n` : line(e));
    }
  }
}

const KIND_WIDTH = 12;

/** `2. frontend  running on frontend (attempt 1), task 14`: a plan's step in one line. */
function stepLine(s: NonNullable<Task['steps']>[number]): string {
  const where = s.agentId ? ` on ${s.agentId}${s.attempt ? ` (attempt ${s.attempt})` : ''}` : '';
  const commit = s.commit ? `, commit ${s.commit.slice(0, 12)}` : '';
  return `${s.index + 1}. ${s.specialty.padEnd(10)} ${s.state}${where}${commit}${s.taskId ? `, task ${s.taskId}` : ''} — ${s.goal}`;
}

/** `12:04:05  assigned   attempt 1 → backend: …`; progress lines (the run's own output) are marked with │. */
function line(e: TaskEvent): string {
  const time = clock(e.at);
  const [first = '', ...rest] = e.message.split('\n');
  if (e.kind === 'progress') {
    return [first, ...rest].map((l) => `${time}  │ ${l}\n`).join('');
  }
  const prefix = e.kind === 'assigned' && e.agentId ? `attempt ${e.attempt} → ${e.agentId}: ` : '';
  const head = `${time}  ${e.kind.padEnd(KIND_WIDTH)} `;
  const indent = ' '.repeat(head.length);
  return `${head}${prefix}${first}\n${rest.map((l) => `${indent}${l}\n`).join('')}`;
}

/**
 * Results and hand-backs the coordinator has not acknowledged yet, kept on disk as well as in
 * memory: one JSON file per task under <dataDir>/pending-reports/, written (fsync, rename) before the
 * report is sent and deleted on its `task.ack`. An agent killed between finishing a task and the
 * ack reloads them at start, lists them in its hello and re-sends them after the welcome, so the
 * work is reported once instead of being run again. Stale ones are ignored by the coordinator's fencing.
 */
import { closeSync, fsyncSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../shared/log.js';
import { agentMessageSchema, type AgentMessage, type TaskRef } from '../shared/protocol.js';
import { makeDir } from './make-dir.js';

export type Report = Extract<AgentMessage, { type: 'task.result' | 'task.released' }>;

export class PendingReports {
  private readonly reports = new Map<number, Report>();
  readonly dir: string;

  constructor(dataDir: string, private readonly log: Logger) {
    this.dir = join(dataDir, 'pending-reports');
    let names: string[];
    try {
      makeDir(this.dir);
      names = readdirSync(this.dir);
    } catch (err) {
      log.warn({ dir: this.dir, code: (err as NodeJS.ErrnoException).code ?? String(err) }, 'cannot use the pending-reports directory; reports are held in memory only');
      names = [];
    }
    for (const name of names) {
      const file = join(this.dir, name);
      if (!/^\d+\.json$/.test(name)) {
        rmSync(file, { force: true }); // a temp file of a write the process did not finish
        continue;
      }
      const report = parse(file);
      if (report) this.reports.set(report.taskId, report);
      else {
        log.warn({ file }, 'unreadable pending report: removed (the coordinator will reassign the task)');
        rmSync(file, { force: true });
      }
    }
    if (this.reports.size > 0) log.info({ tasks: [...this.reports.keys()] }, 'reports not yet acknowledged before the restart: they are sent again after the hello');
  }

  get size(): number {
    return this.reports.size;
  }

  get(taskId: number): Report | undefined {
    return this.reports.get(taskId);
  }

  values(): IterableIterator<Report> {
    return this.reports.values();
  }

  [Symbol.iterator](): IterableIterator<[number, Report]> {
    return this.reports.entries();
  }

  /**
   * Keeps `report` until acknowledged. A write that fails (full or read-only disk) is logged and the
   * report kept in memory only: it is still sent, only a kill before the ack would lose it.
   */
  set(taskId: number, report: Report): void {
    this.reports.set(taskId, report);
    const file = this.file(taskId);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, JSON.stringify(report));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, file);
    } catch (err) {
      rmSync(tmp, { force: true });
      this.log.warn({ taskId, code: (err as NodeJS.ErrnoException).code ?? String(err) }, 'cannot keep the report on disk; it is held in memory only until acknowledged');
    }
  }

  delete(taskId: number): void {
    this.reports.delete(taskId);
    rmSync(this.file(taskId), { force: true });
  }

  /** What the hello lists: the tasks of these reports and those `running` (a running attempt wins). */
  heldWith(running: ReadonlyMap<number, { attempt: number }>): TaskRef[] {
    const refs = new Map<number, number>();
    for (const [taskId, r] of this.reports) refs.set(taskId, r.attempt);
    for (const [taskId, r] of running) refs.set(taskId, r.attempt);
    return [...refs].map(([taskId, attempt]) => ({ taskId, attempt }));
  }

  private file(taskId: number): string {
    return join(this.dir, `${taskId}.json`);
  }
}

function parse(file: string): Report | undefined {
  try {
    const parsed = agentMessageSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success || (parsed.data.type !== 'task.result' && parsed.data.type !== 'task.released')) return undefined;
    return parsed.data;
  } catch {
    return undefined;
  }
}

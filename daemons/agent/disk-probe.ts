/**
 * Watches that the agent's state directory can be written: every `intervalMs` it writes, fsyncs
 * and deletes a 64 KiB probe file. A full or read-only disk makes the agent drain itself with the
 * reason (status line, `ccc agents`) instead of failing every task it is given; the first probe
 * that succeeds again lets it take work again.
 */
import { closeSync, fsyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../shared/log.js';

const PROBE_BYTES = 64 * 1024;
const WHAT: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'I/O error',
  EISDIR: 'the probe file is a directory',
  ENOTDIR: 'a path component is not a directory',
  ENOENT: 'the directory does not exist',
};

export class DiskProbe {
  /** Why the state directory cannot be written, or undefined while it can. */
  problem: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly file: string;

  constructor(
    private readonly dir: string,
    private readonly intervalMs: number,
    private readonly onChange: (problem: string | undefined) => void,
    private readonly log: Logger,
  ) {
    this.file = join(dir, '.disk-probe');
  }

  start(): void {
    this.check();
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Runs one probe; calls onChange when the answer differs from the last one. */
  check(): string | undefined {
    const problem = probe(this.file, this.dir);
    if (problem !== this.problem) {
      this.problem = problem;
      if (problem) this.log.warn({ dir: this.dir, problem }, 'cannot write the state directory: draining until a probe write succeeds');
      else this.log.info({ dir: this.dir }, 'the state directory is writable again: taking tasks');
      this.onChange(problem);
    }
    return problem;
  }
}

function probe(file: string, dir: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'w', 0o600);
    writeSync(fd, Buffer.alloc(PROBE_BYTES));
    fsyncSync(fd);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return `disk: cannot write to ${dir} (${code}: ${WHAT[code] ?? String((err as Error).message)})`;
  } finally {
    if (fd !== undefined) closeSync(fd);
    try {
      rmSync(file, { force: true });
    } catch { /* not a file (EISDIR), or the file system refuses: the next probe tells */ }
  }
}

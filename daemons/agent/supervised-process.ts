/**
 * Runs one child in its own process group under supervision: input on stdin,
 * output line by line, a wall-clock limit, an optional idle limit (no output
 * line for N ms), and cancellation; any of them stops the whole group
 * (SIGTERM, grace, SIGKILL).
 */
import { spawn } from 'node:child_process';
import { LineSplitter } from './line-splitter.js';
import { stopGroup } from './process-group.js';

export type StopReason = 'cancelled' | 'timeout' | 'idle' | 'requested';

export interface SupervisedOptions {
  program: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  stdin: string;
  signal: AbortSignal;
  timeoutMs: number;
  idleTimeoutMs?: number;
  onStdoutLine(line: string): void;
  onStderrLine?(line: string): void;
}

export interface SupervisedExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why we stopped it, if we did. */
  stopReason: StopReason | undefined;
  /** The child could not be started at all (ENOENT, EACCES …). */
  spawnError: NodeJS.ErrnoException | undefined;
}

export interface Supervised {
  /** Stops the group on the caller's behalf (e.g. the work is done but the process lingers). */
  stop(reason?: StopReason): void;
  exited: Promise<SupervisedExit>;
}

export function supervise(opts: SupervisedOptions): Supervised {
  const child = spawn(opts.program, opts.args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let stopReason: StopReason | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  const stop = (reason: StopReason = 'requested') => {
    stopReason ??= reason;
    void stopGroup(child);
  };
  const armIdle = () => {
    if (!opts.idleTimeoutMs) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => stop('idle'), opts.idleTimeoutMs);
  };
  const stdout = new LineSplitter((line) => { armIdle(); opts.onStdoutLine(line); });
  const stderr = new LineSplitter((line) => opts.onStderrLine?.(line));
  child.stdout!.setEncoding('utf8').on('data', (c: string) => stdout.push(c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => stderr.push(c));
  child.stdin!.on('error', () => { /* the child need not read all its input */ });
  child.stdin!.end(opts.stdin);
  armIdle();

  const onAbort = () => stop('cancelled');
  opts.signal.addEventListener('abort', onAbort, { once: true });
  if (opts.signal.aborted) onAbort();
  const wallTimer = setTimeout(() => stop('timeout'), opts.timeoutMs);

  const exited = new Promise<SupervisedExit>((resolve) => {
    const finish = (exit: Omit<SupervisedExit, 'stopReason'>) => {
      clearTimeout(wallTimer);
      clearTimeout(idleTimer);
      opts.signal.removeEventListener('abort', onAbort);
      resolve({ ...exit, stopReason });
    };
    child.once('error', (err: NodeJS.ErrnoException) => finish({ code: null, signal: null, spawnError: err }));
    child.once('close', (code, signal) => {
      stdout.end();
      stderr.end();
      finish({ code, signal, spawnError: undefined });
    });
  });
  return { stop, exited };
}

/**
 * Runs a configured command per task, in the attempt's work directory and its
 * own process group, with the task as JSON on stdin and a minimal environment
 * (no cluster tokens). Output lines become progress; exit 0 is success.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { MAX_PROGRESS_CHARS } from '../shared/protocol.js';
import { packageRoot } from '../shared/package-root.js';
import type { Execution, ExecutionHooks, ExecutionOutcome, Executor } from './executor.js';
import { stopGroup } from './process-group.js';

export interface CommandExecutorOptions {
  /** argv; `{packageRoot}` in an argument stands for the installed package's directory. */
  command: string[];
  timeoutMs: number;
  /** The agent's environment, of which only PATH, HOME, LANG and TZ are passed on. */
  env: Record<string, string | undefined>;
}

const PASSED_ENV = ['PATH', 'HOME', 'LANG', 'TZ'] as const;
const TAIL_LINES = 20;

export class CommandExecutor implements Executor {
  constructor(private readonly opts: CommandExecutorOptions) {}

  run(execution: Execution, hooks: ExecutionHooks): Promise<ExecutionOutcome> {
    const [program, ...args] = this.opts.command.map((a) => a.replaceAll('{packageRoot}', packageRoot));
    const env: Record<string, string> = {
      CCC_TASK_ID: String(execution.taskId),
      CCC_TASK_ATTEMPT: String(execution.attempt),
      CCC_TASK_SPECIALTY: execution.task.specialty,
    };
    for (const key of PASSED_ENV) if (this.opts.env[key]) env[key] = this.opts.env[key]!;
    const started = Date.now();

    return new Promise<ExecutionOutcome>((resolve) => {
      const child = spawn(program!, args, { cwd: execution.workDir, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
      const tail: string[] = [];
      let stopReason: 'cancelled' | 'timeout' | undefined;
      const onLine = (line: string) => {
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
        if (line.trim()) hooks.progress(line.slice(0, MAX_PROGRESS_CHARS));
      };
      createInterface({ input: child.stdout! }).on('line', onLine);
      createInterface({ input: child.stderr! }).on('line', onLine);
      child.stdin!.on('error', () => { /* the command need not read its input */ });
      child.stdin!.end(JSON.stringify({ taskId: execution.taskId, attempt: execution.attempt, ...execution.task }));

      const stop = (reason: 'cancelled' | 'timeout') => {
        stopReason ??= reason;
        void stopGroup(child);
      };
      const onAbort = () => stop('cancelled');
      hooks.signal.addEventListener('abort', onAbort, { once: true });
      if (hooks.signal.aborted) onAbort();
      const timer = setTimeout(() => stop('timeout'), this.opts.timeoutMs);

      const finish = (outcome: ExecutionOutcome) => {
        clearTimeout(timer);
        hooks.signal.removeEventListener('abort', onAbort);
        resolve(outcome);
      };
      child.on('error', (err: NodeJS.ErrnoException) => {
        finish({ outcome: 'failed', retryable: false, exitCode: null, summary: `cannot run ${program}: ${err.code ?? err.message}; check agent.executor.command in cluster.yml` });
      });
      child.on('close', (code, signal) => {
        const last = tail.filter((l) => l.trim()).at(-1) ?? '';
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        if (stopReason === 'cancelled') return finish({ outcome: 'cancelled', retryable: true, exitCode: code, summary: `cancelled after ${seconds} s` });
        if (stopReason === 'timeout') return finish({ outcome: 'failed', retryable: true, exitCode: code, summary: `timed out after ${this.opts.timeoutMs / 1000} s` });
        if (code === 0) return finish({ outcome: 'succeeded', retryable: false, exitCode: 0, summary: last || `done in ${seconds} s` });
        const how = code === null ? `killed by ${signal}` : `exit code ${code}`;
        finish({ outcome: 'failed', retryable: true, exitCode: code, summary: `${how}${last ? `: ${last}` : ''}` });
      });
    });
  }
}

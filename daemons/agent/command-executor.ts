/**
 * Runs a configured command per task, in the attempt's work directory and its
 * own process group, with the task as JSON on stdin and a minimal environment
 * (no cluster tokens). Output lines become progress; exit 0 is success.
 */
import { MAX_PROGRESS_CHARS } from '../shared/protocol.js';
import { packageRoot } from '../shared/package-root.js';
import type { Execution, ExecutionHooks, ExecutionOutcome, Executor } from './executor.js';
import { supervise } from './supervised-process.js';

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

  async run(execution: Execution, hooks: ExecutionHooks): Promise<ExecutionOutcome> {
    const [program, ...args] = this.opts.command.map((a) => a.replaceAll('{packageRoot}', packageRoot));
    const env: Record<string, string> = {
      CCC_TASK_ID: String(execution.taskId),
      CCC_TASK_ATTEMPT: String(execution.attempt),
      CCC_TASK_SPECIALTY: execution.task.specialty,
    };
    for (const key of PASSED_ENV) if (this.opts.env[key]) env[key] = this.opts.env[key]!;
    const started = Date.now();
    const tail: string[] = [];
    const onLine = (line: string) => {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      if (line.trim()) hooks.progress(line.slice(0, MAX_PROGRESS_CHARS));
    };
    const run = supervise({
      program: program!, args, cwd: execution.workDir, env, signal: hooks.signal, timeoutMs: this.opts.timeoutMs,
      stdin: JSON.stringify({ taskId: execution.taskId, attempt: execution.attempt, ...execution.task }),
      onStdoutLine: onLine, onStderrLine: onLine,
    });
    const exit = await run.exited;
    if (exit.spawnError) {
      return { outcome: 'failed', retryable: false, exitCode: null, summary: `cannot run ${program}: ${exit.spawnError.code ?? exit.spawnError.message}; check agent.executor.command in cluster.yml` };
    }
    const last = tail.filter((l) => l.trim()).at(-1) ?? '';
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (exit.stopReason === 'cancelled') return { outcome: 'cancelled', retryable: true, exitCode: exit.code, summary: `cancelled after ${seconds} s` };
    if (exit.stopReason === 'timeout') return { outcome: 'failed', retryable: true, exitCode: exit.code, summary: `timed out after ${this.opts.timeoutMs / 1000} s` };
    if (exit.code === 0) return { outcome: 'succeeded', retryable: false, exitCode: 0, summary: last || `done in ${seconds} s` };
    const how = exit.code === null ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
    return { outcome: 'failed', retryable: true, exitCode: exit.code, summary: `${how}${last ? `: ${last}` : ''}` };
  }
}

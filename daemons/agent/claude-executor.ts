/**
 * Runs a task with the real Claude Code CLI, headless:
 * `claude -p --output-format stream-json --verbose …` with the prompt on stdin,
 * in the task's worktree, in its own process group, with a minimal environment.
 * Success is only a `result` event with subtype "success" and is_error false.
 */
import { randomUUID } from 'node:crypto';
import { packageRoot } from '../shared/package-root.js';
import type { ClaudeExecutorConfig } from '../shared/cluster-schema.js';
import { isResultEvent, parseEvent, progressLines, type ResultEvent } from './claude-stream.js';
import type { Execution, ExecutionHooks, ExecutionOutcome, Executor } from './executor.js';
import { makeDir } from './make-dir.js';
import { buildPrompt, systemPromptFor } from './prompt.js';
import { supervise } from './supervised-process.js';
import { budgetArgs } from './budget.js';

export interface ClaudeExecutorOptions {
  config: Omit<ClaudeExecutorConfig, 'type'>;
  /** HOME for the CLI (its settings and transcripts), kept apart from the agent's own. */
  home: string;
  /** The agent's environment: only PATH, LANG, TZ, the Anthropic credential and CLAUDE_CODE_* pass through. */
  env: Record<string, string | undefined>;
  /** CCC_ANTHROPIC_BASE_URL: a gateway, or the rehearsal model. */
  anthropicBaseUrl: string | undefined;
}

/** After the result event the CLI should exit; if it lingers this long, it is stopped. */
const LINGER_MS = 5000;
const PASSED_ENV = ['PATH', 'LANG', 'TZ', 'ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN'] as const;

export class ClaudeExecutor implements Executor {
  constructor(private readonly opts: ClaudeExecutorOptions) {}

  /** The child's environment: nothing of the cluster's (no CCC_* tokens, no GitHub token). */
  childEnv(): Record<string, string> {
    const env: Record<string, string> = { HOME: this.opts.home, DISABLE_AUTOUPDATER: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' };
    for (const key of PASSED_ENV) if (this.opts.env[key]) env[key] = this.opts.env[key]!;
    for (const [key, value] of Object.entries(this.opts.env)) if (key.startsWith('CLAUDE_CODE_') && value) env[key] = value;
    if (this.opts.anthropicBaseUrl) env.ANTHROPIC_BASE_URL = this.opts.anthropicBaseUrl;
    return env;
  }

  args(execution: Execution, sessionId: string): string[] {
    const c = this.opts.config;
    const args = ['-p', '--output-format', 'stream-json', '--verbose', '--max-turns', String(c.maxTurns), '--permission-mode', c.permissionMode, '--session-id', sessionId];
    if (c.allowedTools.length) args.push('--allowedTools', c.allowedTools.join(','));
    if (c.model) args.push('--model', c.model);
    args.push(...budgetArgs(execution.task.specialty, c.maxBudgetUsd));
    const extra = systemPromptFor(execution.task.specialty, c.systemPrompts);
    if (extra) args.push('--append-system-prompt', extra);
    return args;
  }

  async run(execution: Execution, hooks: ExecutionHooks): Promise<ExecutionOutcome> {
    const c = this.opts.config;
    const sessionId = randomUUID();
    makeDir(this.opts.home);
    const binary = c.binary.replaceAll('{packageRoot}', packageRoot);
    let result: ResultEvent | undefined;
    let noise = 0;
    const stderrTail: string[] = [];
    const run = supervise({
      program: binary,
      args: this.args(execution, sessionId),
      cwd: execution.workDir,
      env: this.childEnv(),
      stdin: buildPrompt(execution.task, execution.taskId),
      signal: hooks.signal,
      timeoutMs: c.timeoutSeconds * 1000,
      idleTimeoutMs: c.idleTimeoutSeconds * 1000,
      onStdoutLine: (line) => {
        const event = parseEvent(line);
        if (!event) { if (line.trim()) noise++; return; }
        for (const text of progressLines(event)) hooks.progress(text);
        if (isResultEvent(event)) {
          result = event;
          hooks.progress(`result: ${event.subtype}${event.is_error ? ' (error)' : ''}, ${event.num_turns ?? '?'} turns, $${(event.total_cost_usd ?? 0).toFixed(4)}`);
          // "Result seen" is done, even if the process does not exit by itself.
          setTimeout(() => run.stop('requested'), LINGER_MS).unref();
        }
      },
      onStderrLine: (line) => {
        if (!line.trim()) return;
        stderrTail.push(line);
        if (stderrTail.length > 5) stderrTail.shift();
      },
    });
    const exit = await run.exited;
    const facts = { costUsd: result?.total_cost_usd ?? null, turns: result?.num_turns ?? null, sessionId: result?.session_id ?? sessionId };
    const stderr = stderrTail.at(-1) ?? '';

    if (exit.spawnError) {
      return { outcome: 'failed', retryable: false, exitCode: null, ...facts, summary: `cannot run the Claude Code CLI at ${binary}: ${exit.spawnError.code ?? exit.spawnError.message}; install it (npm ci) or set agent.executor.binary` };
    }
    if (exit.stopReason === 'cancelled') return { outcome: 'cancelled', retryable: true, exitCode: exit.code, ...facts, summary: 'cancelled' };
    if (result) return { exitCode: exit.code, ...facts, ...judge(result) };
    if (exit.stopReason === 'idle') return { outcome: 'failed', retryable: true, exitCode: exit.code, ...facts, summary: `the CLI printed nothing for ${c.idleTimeoutSeconds} s and was stopped (hung?)` };
    if (exit.stopReason === 'timeout') return { outcome: 'failed', retryable: true, exitCode: exit.code, ...facts, summary: `the CLI ran past the ${c.timeoutSeconds} s limit and was stopped` };
    const how = exit.code === null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    return { outcome: 'failed', retryable: true, exitCode: exit.code, ...facts, summary: `the CLI ${how} without a result${stderr ? `: ${stderr}` : ''}${noise ? ` (${noise} non-JSON lines)` : ''}` };
  }
}

/** Success is a result event with subtype "success" and is_error false; the reason of a failure decides retry. */
export function judge(result: ResultEvent): Pick<ExecutionOutcome, 'outcome' | 'retryable' | 'summary'> {
  const text = (result.result ?? result.errors?.join('; ') ?? '').trim().slice(0, 500);
  if (result.subtype === 'success' && !result.is_error) return { outcome: 'succeeded', retryable: false, summary: text || 'done' };
  if (result.api_error_status === 401 || result.api_error_status === 403) {
    return { outcome: 'failed', retryable: false, summary: `the model API refused the credential (HTTP ${result.api_error_status}): check ANTHROPIC_API_KEY in the agent's env file${text ? ` — ${text}` : ''}` };
  }
  if (result.subtype === 'error_max_turns') return { outcome: 'failed', retryable: false, summary: `reached the turn limit (${result.num_turns ?? '?'} turns): raise maxTurns or split the issue` };
  if (result.subtype === 'error_max_budget_usd') return { outcome: 'failed', retryable: false, summary: 'reached the cost budget' };
  return { outcome: 'failed', retryable: true, summary: `the CLI reported ${result.subtype}${result.api_error_status ? ` (HTTP ${result.api_error_status})` : ''}${text ? `: ${text}` : ''}` };
}

/**
 * Runs a task with the real Claude Code CLI, headless:
 * `claude -p --output-format stream-json --verbose …` with the prompt on stdin,
 * in the task's directory, in its own process group, with a minimal environment
 * and no credential: ModelReach gives it the relay's per-task token, the egress
 * proxy and (unless turned off) the sandbox around the whole process.
 * Success is only a `result` event with subtype "success" and is_error false.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../shared/package-root.js';
import type { ClaudeExecutorConfig } from '../shared/cluster-schema.js';
import { isResultEvent, parseEvent, progressLines, type ResultEvent } from './claude-stream.js';
import { parseRules } from './egress/allowlist.js';
import type { Execution, ExecutionHooks, ExecutionOutcome, Executor } from './executor.js';
import type { ModelReach, OpenedRun } from './model-reach.js';
import { plannerProfile, profileFor, type ResolvedProfile } from './profile.js';
import { buildPrompt } from './prompt.js';
import type { SessionStore } from './session-store.js';
import { supervise, type Supervised } from './supervised-process.js';

export interface ClaudeExecutorOptions {
  config: Omit<ClaudeExecutorConfig, 'type'>;
  /** The agent's environment: only PATH, LANG, TZ and CLAUDE_CODE_* pass through; never a credential. */
  env: Record<string, string | undefined>;
  reach: ModelReach;
  /** Transcripts kept between runs, so a follow-up on this agent resumes its session. */
  sessions?: SessionStore;
}

/** After the result event the CLI should exit; if it lingers this long, it is stopped. */
const LINGER_MS = 5000;
const PASSED_ENV = ['PATH', 'LANG', 'TZ'] as const;
export const CREDENTIAL_FIX = 'set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) in the agent\'s env file (/etc/ccc/agent.env; under `ccc up`, the environment it starts from) to a key the model API accepts';

export class ClaudeExecutor implements Executor {
  constructor(private readonly opts: ClaudeExecutorOptions) {}

  /** The child's environment before ModelReach adds the relay and proxy: nothing of the cluster's, no credential. */
  childEnv(): Record<string, string> {
    const env: Record<string, string> = { DISABLE_AUTOUPDATER: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' };
    for (const key of PASSED_ENV) if (this.opts.env[key]) env[key] = this.opts.env[key]!;
    for (const [key, value] of Object.entries(this.opts.env)) if (key.startsWith('CLAUDE_CODE_') && value) env[key] = value;
    return env;
  }

  /** `resume`: continue that session (its transcript is in the run's home) instead of starting `sessionId`. */
  args(profile: ResolvedProfile, sessionId: string, mcpConfig: string | undefined, resume = false): string[] {
    const session = resume ? ['--resume', sessionId] : ['--session-id', sessionId];
    const args = ['-p', '--output-format', 'stream-json', '--verbose', '--max-turns', String(profile.maxTurns), '--permission-mode', profile.permissionMode ?? this.opts.config.permissionMode, ...session];
    if (profile.allowedTools.length) args.push('--allowedTools', profile.allowedTools.join(','));
    if (profile.disallowedTools?.length) args.push('--disallowedTools', profile.disallowedTools.join(','));
    if (profile.model) args.push('--model', profile.model);
    if (profile.maxBudgetUsd !== undefined) args.push('--max-budget-usd', String(profile.maxBudgetUsd));
    if (profile.systemPrompt) args.push('--append-system-prompt', profile.systemPrompt);
    if (mcpConfig) args.push('--mcp-config', mcpConfig, '--strict-mcp-config');
    return args;
  }

  async run(execution: Execution, hooks: ExecutionHooks): Promise<ExecutionOutcome> {
    const c = this.opts.config;
    const planner = Boolean(execution.task.planner);
    const profile = planner ? plannerProfile(profileFor(c, 'planner')) : profileFor(c, execution.task.specialty);
    const refusal = this.opts.reach.refusal(allowsBash(profile.allowedTools, c.permissionMode));
    if (refusal) return { outcome: 'failed', retryable: true, exitCode: null, summary: `this agent takes no such task: ${refusal}` };
    const binary = c.binary.replaceAll('{packageRoot}', packageRoot);
    if (!existsSync(binary)) return { outcome: 'failed', retryable: false, exitCode: null, summary: `cannot run the Claude Code CLI at ${binary}: ENOENT; install it (npm ci) or set agent.executor.binary` };
    let refused: number | undefined;
    let run: Supervised | undefined;
    let opened: OpenedRun;
    try {
      opened = await this.opts.reach.open({
      taskId: execution.taskId, attempt: execution.attempt, workDir: execution.workDir, binary, args: [], env: this.childEnv(),
      extraEgress: parseRules(profile.egressAllow),
      onRefused: (status) => {
        if (refused) return;
        refused = status;
        hooks.progress(`the model API refused the agent's credential (HTTP ${status}); stopping the run`);
        run?.stop('requested');
      },
      onDenied: (target) => hooks.progress(`egress denied: ${target}`),
      });
    } catch (err) {
      return { outcome: 'failed', retryable: true, exitCode: null, summary: `cannot prepare the run's relay, proxy and sandbox: ${(err as Error).message}` };
    }
    let mcpConfig: string | undefined;
    if (profile.mcpServers) {
      mcpConfig = join(opened.env.HOME!, 'ccc-mcp.json');
      writeFileSync(mcpConfig, JSON.stringify({ mcpServers: profile.mcpServers }), { mode: 0o600 });
    }
    // A follow-up resumes the previous attempt's session when this agent kept its transcript.
    const home = opened.env.HOME!;
    const wanted = execution.task.resumeSessionId;
    const resume = Boolean(wanted && this.opts.sessions?.restore(home, wanted));
    const sessionId = resume ? wanted! : randomUUID();
    if (resume) hooks.progress(`resuming the Claude session ${sessionId}`);
    const args = [...opened.args, ...this.args(profile, sessionId, mcpConfig, resume)];
    let result: ResultEvent | undefined;
    let noise = 0;
    const stderrTail: string[] = [];
    run = supervise({
      program: opened.program, args, cwd: opened.cwd, env: opened.env,
      stdin: buildPrompt(execution.task, execution.taskId, execution.stepDiffs),
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
          setTimeout(() => run?.stop('requested'), LINGER_MS).unref();
        }
      },
      onStderrLine: (line) => {
        if (!line.trim()) return;
        stderrTail.push(line);
        if (stderrTail.length > 5) stderrTail.shift();
      },
    });
    const exit = await run.exited;
    this.opts.sessions?.keep(home, result?.session_id ?? sessionId);
    await opened.close();
    const u = opened.usage;
    hooks.progress(`model relay: ${u.requests} requests, ${u.inputTokens} in / ${u.outputTokens} out tokens, ~$${u.costUsd.toFixed(4)}${opened.denied() ? `, ${opened.denied()} egress denied` : ''}${opened.confined ? '' : ' (not sandboxed: agent.sandbox is off)'}`);
    const facts = { costUsd: result?.total_cost_usd ?? (u.costUsd || null), turns: result?.num_turns ?? null, sessionId: result?.session_id ?? sessionId };
    const stderr = stderrTail.at(-1) ?? '';

    if (exit.spawnError) {
      return { outcome: 'failed', retryable: false, exitCode: null, ...facts, summary: `cannot run ${opened.program}: ${exit.spawnError.code ?? exit.spawnError.message}; install it (npm ci; apt-get install bubblewrap socat) or set agent.executor.binary` };
    }
    if (refused) return { outcome: 'failed', retryable: false, exitCode: exit.code, ...facts, summary: `the model API refused the agent's credential (HTTP ${refused}): ${CREDENTIAL_FIX}` };
    if (exit.stopReason === 'cancelled') return { outcome: 'cancelled', retryable: true, exitCode: exit.code, ...facts, summary: 'cancelled' };
    // A planner's answer is the plan itself: kept whole (the result's summary holds up to 4000 characters).
    if (result) return { exitCode: exit.code, ...facts, ...judge(result, planner ? 4000 : 500) };
    if (exit.stopReason === 'idle') return { outcome: 'failed', retryable: true, limit: 'idle', exitCode: exit.code, ...facts, summary: `the CLI printed nothing for ${c.idleTimeoutSeconds} s and was stopped (hung?)` };
    if (exit.stopReason === 'timeout') return { outcome: 'failed', retryable: true, limit: 'timeout', exitCode: exit.code, ...facts, summary: `the CLI ran past the ${c.timeoutSeconds} s limit and was stopped` };
    const how = exit.code === null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    return { outcome: 'failed', retryable: true, exitCode: exit.code, ...facts, summary: `the CLI ${how} without a result${stderr ? `: ${stderr}` : ''}${noise ? ` (${noise} non-JSON lines)` : ''}` };
  }
}

/** Whether a run with these tools can run shell commands (then it must be sandboxed). */
export function allowsBash(allowedTools: readonly string[], permissionMode: string): boolean {
  return permissionMode === 'bypassPermissions' || allowedTools.some((t) => /^Bash\b/.test(t));
}

/** Success is a result event with subtype "success" and is_error false; the reason of a failure decides retry. */
export function judge(result: ResultEvent, maxSummary = 500): Pick<ExecutionOutcome, 'outcome' | 'retryable' | 'summary' | 'limit'> {
  const text = (result.result ?? result.errors?.join('; ') ?? '').trim().slice(0, maxSummary);
  if (result.subtype === 'success' && !result.is_error) return { outcome: 'succeeded', retryable: false, summary: text || 'done' };
  if (result.api_error_status === 401 || result.api_error_status === 403 || /not logged in/i.test(text)) {
    return { outcome: 'failed', retryable: false, summary: `the model API refused the credential${result.api_error_status ? ` (HTTP ${result.api_error_status})` : ''}: ${CREDENTIAL_FIX}${text ? ` — ${text}` : ''}` };
  }
  if (result.subtype === 'error_max_turns') return { outcome: 'failed', retryable: false, limit: 'turns', summary: `reached the turn limit (${result.num_turns ?? '?'} turns): raise maxTurns or split the issue` };
  if (result.subtype === 'error_max_budget_usd') return { outcome: 'failed', retryable: false, limit: 'budget', summary: 'reached the cost budget' };
  return { outcome: 'failed', retryable: true, summary: `the CLI reported ${result.subtype}${result.api_error_status ? ` (HTTP ${result.api_error_status})` : ''}${text ? `: ${text}` : ''}` };
}

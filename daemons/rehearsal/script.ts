/**
 * The rehearsal model's script: decides the next assistant turn from the
 * request alone (no server state), so a retried request gets the same answer.
 * Default scenario: Write the task's file → Bash `git status --short` → a
 * short summary with end_turn. Faults come from the issue's `ccc-rehearsal:`
 * line, else from the server-wide knobs.
 */
import { posix } from 'node:path';
import { toolResults, toolUses, type MessagesRequest } from './messages.js';
import { currentTaskStart, parseKnobs, parseTask, workingDirectory, type Knobs } from './prompt.js';
import { taskFile } from './task-file.js';
import { plannerAnswer } from './planner-answer.js';

export type ScriptedBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export interface ScriptedTurn {
  content: ScriptedBlock[];
  stopReason: 'end_turn' | 'tool_use';
}

export interface ApiError {
  status: number;
  /** Anthropic's error type, e.g. `authentication_error`. */
  type: string;
  message: string;
  /**
   * Sent as `x-should-retry`. The CLI honours it: without `false` it retries
   * even a 401 ten times with backoff (minutes) before giving up. `null`:
   * no such header at all, as a plain gateway answers.
   */
  retryable?: boolean | null;
}

export type Decision =
  | { kind: 'turn'; turn: ScriptedTurn; latencyMs: number; fault?: 'max-turns' }
  | { kind: 'error'; error: ApiError; latencyMs: number }
  | { kind: 'hang' };

const FAULT_ERRORS: Record<'401' | '401-gateway' | '500' | 'overloaded', ApiError> = {
  '401': { status: 401, type: 'authentication_error', message: 'invalid x-api-key (rehearsal model: fault=401)' },
  '401-gateway': { status: 401, type: 'authentication_error', message: 'invalid x-api-key (rehearsal model: fault=401-gateway)', retryable: null },
  '500': { status: 500, type: 'api_error', message: 'Internal server error (rehearsal model: fault=500)', retryable: true },
  overloaded: { status: 529, type: 'overloaded_error', message: 'Overloaded (rehearsal model: fault=overloaded)', retryable: true },
};

const GIT_STATUS = 'git status --short';
const MAX_QUOTED_OUTPUT = 2000;

function text(t: string): ScriptedTurn {
  return { content: [{ type: 'text', text: t }], stopReason: 'end_turn' };
}

function tool(turnNumber: number, name: string, input: Record<string, unknown>, say?: string): ScriptedTurn {
  const content: ScriptedBlock[] = say ? [{ type: 'text', text: say }] : [];
  content.push({ type: 'tool_use', id: `toolu_ccc_rehearsal_${String(turnNumber).padStart(2, '0')}`, name, input });
  return { content, stopReason: 'tool_use' };
}

/** The next turn for `request`; `defaults` are the server-wide knobs, which the line overrides. */
export function decideTurn(request: Pick<MessagesRequest, 'messages' | 'system'>, defaults: Knobs = {}): Decision {
  const task = parseTask(request);
  const own = parseKnobs(task?.body ?? '');
  const latencyMs = own.latencyMs ?? defaults.latencyMs ?? 0;
  if (own.problem) return { kind: 'error', latencyMs, error: { status: 400, type: 'invalid_request_error', message: `rehearsal model: ccc-rehearsal line in the issue: ${own.problem}` } };
  const scoped = defaults.faultSpecialty === undefined || defaults.faultSpecialty === task?.specialty;
  const fault = own.fault ?? (scoped ? defaults.fault : undefined);
  if (fault === 'hang') return { kind: 'hang' };
  if (fault === '401' || fault === '401-gateway' || fault === '500' || fault === 'overloaded') return { kind: 'error', latencyMs, error: FAULT_ERRORS[fault] };

  // A resumed session carries the earlier task's turns: only those since the current task's prompt count.
  const messages = request.messages.slice(currentTaskStart(request));
  const used = toolUses(messages);
  const turnNumber = request.messages.filter((m) => m.role === 'assistant').length + 1;
  const cwd = workingDirectory(request);
  const planted = cwd ? plantedWrite(own.writes ?? [], cwd, used, turnNumber) : undefined;
  if (planted) return { kind: 'turn', latencyMs, turn: planted };
  if (fault === 'max-turns') {
    return { kind: 'turn', latencyMs, fault, turn: tool(turnNumber, 'Bash', { command: `echo turn ${turnNumber}`, description: `Print turn ${turnNumber}` }) };
  }
  if (!task) return { kind: 'turn', latencyMs, turn: text('Rehearsal model: this prompt has no task header (lines Repository:, Issue:, Title:, Specialty:, then ---), so there is nothing to do.') };
  if (task.specialty === 'planner') return { kind: 'turn', latencyMs, turn: text(plannerAnswer(task)) };
  if (!cwd) return { kind: 'turn', latencyMs, turn: text('Rehearsal model: the request does not say the working directory ("Primary working directory: /…"), so no file was written. Check this CLI version with scripts/check-claude-cli.mjs.') };

  const bash = own.bash ?? defaults.bash;
  if (bash) return { kind: 'turn', latencyMs, turn: bashScenario(request, bash, turnNumber) };

  const file = taskFile(task);
  const wrote = used.find((u) => u.name === 'Write' && u.input.file_path === posix.join(cwd, file.path));
  if (!wrote) {
    return { kind: 'turn', latencyMs, turn: tool(turnNumber, 'Write', { file_path: posix.join(cwd, file.path), content: file.content }, `I'll add ${file.path} for ${task.issueRef}.`) };
  }
  const status = used.find((u) => u.name === 'Bash' && u.input.command === GIT_STATUS);
  if (!status) return { kind: 'turn', latencyMs, turn: tool(turnNumber, 'Bash', { command: GIT_STATUS, description: 'Show working tree status' }) };

  const results = toolResults(messages);
  const writeResult = results.find((r) => r.toolUseId === wrote.id);
  const statusResult = results.find((r) => r.toolUseId === status.id);
  const lines = [
    writeResult?.isError ? `Could not write ${file.path} for ${task.issueRef} (${task.title}): ${writeResult.text}` : `Added ${file.path} for ${task.issueRef}: ${task.title}.`,
    statusResult?.isError ? `git status failed: ${statusResult.text.slice(0, MAX_QUOTED_OUTPUT)}` : `git status --short:\n${(statusResult?.text ?? '').slice(0, MAX_QUOTED_OUTPUT)}`,
  ];
  return { kind: 'turn', latencyMs, turn: text(lines.join('\n')) };
}

/** The next step of the `write=` knobs: Read each file (the CLI writes over a file only after reading it), then Write it. */
function plantedWrite(writes: NonNullable<Knobs['writes']>, cwd: string, used: ReturnType<typeof toolUses>, turnNumber: number): ScriptedTurn | undefined {
  for (const w of writes) {
    const path = posix.resolve(cwd, w.path);
    if (!used.some((u) => u.name === 'Read' && u.input.file_path === path)) return tool(turnNumber, 'Read', { file_path: path });
    if (!used.some((u) => u.name === 'Write' && u.input.file_path === path)) return tool(turnNumber, 'Write', { file_path: path, content: w.content });
  }
  return undefined;
}

/** `bash=<command>`: run it with the Bash tool, then quote what the tool saw and end the turn. */
function bashScenario(request: Pick<MessagesRequest, 'messages'>, command: string, turnNumber: number): ScriptedTurn {
  const ran = toolUses(request.messages).find((u) => u.name === 'Bash' && u.input.command === command);
  if (!ran) return tool(turnNumber, 'Bash', { command, description: 'Run the command the rehearsal asked for' }, 'Running the requested command.');
  const result = toolResults(request.messages).find((r) => r.toolUseId === ran.id);
  return text(`bash${result?.isError ? ' (error)' : ''}:\n${(result?.text ?? '').slice(0, 20_000)}`);
}

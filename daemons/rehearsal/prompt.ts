/**
 * Reads what a request tells the rehearsal model: the task header our agent
 * puts in the prompt (`Repository:`, `Issue:`, `Title:`, `Specialty:`, `---`,
 * body), the `ccc-rehearsal:` fault line in the body, and the working
 * directory the CLI announces. Pure functions over request text.
 */
import { textsOf, type MessagesRequest } from './messages.js';

export const FAULTS = ['401', '401-gateway', '500', 'overloaded', 'hang', 'max-turns'] as const;
export type Fault = (typeof FAULTS)[number];

/** Above this a "latency" is a hang; use fault=hang for that. */
export const MAX_LATENCY_MS = 600_000;

export interface TaskPrompt {
  repository: string | undefined;
  /** The issue number, when the `Issue:` line holds one (`#12` or `12`). */
  issueNumber: number | undefined;
  /** How to name the issue in text: `#12`, or the raw `Issue:` value, or `the task`. */
  issueRef: string;
  title: string;
  specialty: string;
  /** A planner prompt's `Specialties:` line: what its plan may use. */
  specialties?: string[];
  body: string;
}

export interface Knobs {
  fault?: Fault;
  latencyMs?: number;
  /** `write=<path>:<percent-encoded content>` knobs, in order: files to Read then Write before the task's own. */
  writes?: Array<{ path: string; content: string }>;
  /** `bash=<command>`: the model's first turn runs this command with the Bash tool (drills of what a tool can reach). */
  bash?: string;
  /** Server-wide only: the server-wide fault hits only tasks of this specialty. */
  faultSpecialty?: string;
}

function field(text: string, name: string): string | undefined {
  const m = new RegExp(`^[ \\t]*${name}:[ \\t]*(.*?)[ \\t]*$`, 'mi').exec(text);
  return m?.[1] || undefined;
}

/**
 * Where the current task starts: the last user message with a `Title:` line (a resumed session holds
 * the earlier task's prompt and turns before it), or 0.
 */
export function currentTaskStart(request: Pick<MessagesRequest, 'messages'>): number {
  for (let i = request.messages.length - 1; i > 0; i--) {
    const m = request.messages[i]!;
    if (m.role === 'user' && textsOf(m.content).some((t) => field(t, 'Title') !== undefined)) return i;
  }
  return 0;
}

/** The task of the last user message with a `Title:` line, or undefined when none has one. */
export function parseTask(request: Pick<MessagesRequest, 'messages'>): TaskPrompt | undefined {
  const texts = request.messages.slice(currentTaskStart(request)).filter((m) => m.role === 'user').flatMap((m) => textsOf(m.content));
  const text = texts.find((t) => field(t, 'Title') !== undefined);
  if (text === undefined) return undefined;
  const title = field(text, 'Title')!;
  const issue = field(text, 'Issue');
  const number = issue && /^#?(\d{1,9})$/.exec(issue)?.[1];
  const afterTitle = text.slice(text.search(/^[ \t]*Title:/im));
  const fence = /^[ \t]*---[ \t]*$/m.exec(afterTitle);
  const offered = field(text, 'Specialties'); // a planner prompt's
  return {
    repository: field(text, 'Repository'),
    issueNumber: number ? Number(number) : undefined,
    issueRef: number ? `#${number}` : issue ?? 'the task',
    title,
    specialty: (field(text, 'Specialty') ?? 'general').toLowerCase(),
    ...(offered ? { specialties: offered.toLowerCase().split(/[\s,]+/).filter(Boolean) } : {}),
    body: fence ? afterTitle.slice(fence.index + fence[0].length).replace(/^\r?\n/, '') : '',
  };
}

/**
 * The knobs of a `ccc-rehearsal: fault=<…> latency=<ms>` line anywhere in
 * `text` (the first such line counts). A misspelt knob is an error, not
 * silence, so a drill never runs without the fault it asked for.
 */
export function parseKnobs(text: string): Knobs & { problem?: string } {
  const line = /ccc-rehearsal:[ \t]*([^\r\n]*)/i.exec(text)?.[1];
  if (line === undefined) return {};
  const knobs: Knobs = {};
  // `bash=` takes the rest of the line, spaces and all, so it comes last.
  const bash = /(?:^|\s)bash=(.*)$/.exec(line);
  if (bash) {
    if (!bash[1]!.trim()) return { problem: 'bash= needs a command, e.g. bash=env' };
    knobs.bash = bash[1]!.trim();
  }
  const words = bash ? line.slice(0, bash.index) : line;
  for (const word of words.trim().split(/\s+/).filter(Boolean)) {
    const [key, value = ''] = word.split('=', 2) as [string, string?];
    if (key === 'fault' && (FAULTS as readonly string[]).includes(value)) knobs.fault = value as Fault;
    else if (key === 'fault') return { problem: `unknown fault "${value}" (valid: ${FAULTS.join(', ')})` };
    else if (key === 'latency' && /^\d+(ms)?$/.test(value) && parseInt(value, 10) <= MAX_LATENCY_MS) knobs.latencyMs = parseInt(value, 10);
    else if (key === 'latency') return { problem: `latency "${value}" is not a number of milliseconds from 0 to ${MAX_LATENCY_MS}` };
    else if (key === 'write') {
      const write = parseWrite(word.slice('write='.length));
      if (!write) return { problem: `write "${value}" is not <path>:<percent-encoded content>` };
      (knobs.writes ??= []).push(write);
    } else return { problem: `unknown knob "${word}" (valid: fault=<${FAULTS.join('|')}> latency=<ms> write=<path>:<content> bash=<command, to the end of the line>)` };
  }
  return knobs;
}

function parseWrite(spec: string): { path: string; content: string } | undefined {
  const colon = spec.indexOf(':');
  if (colon < 1) return undefined;
  try {
    return { path: decodeURIComponent(spec.slice(0, colon)), content: decodeURIComponent(spec.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

// A session resumed in another directory says "Primary working directory: /new (was /old)" (2.1.331).
const CWD_PATTERNS = [/^[ \t-]*Primary working directory:[ \t]*(\/.*?)(?:[ \t]+\(was \/.*\))?[ \t]*$/m, /^[ \t-]*Working directory:[ \t]*(\/.*?)[ \t]*$/m];

/**
 * The absolute working directory the CLI announces. 2.1.331 puts it in a
 * `role: "system"` message ("Primary working directory: /path"); older
 * versions put "Working directory: /path" in the system prompt. User messages
 * are never searched: they hold the untrusted issue text.
 */
export function workingDirectory(request: Pick<MessagesRequest, 'messages' | 'system'>): string | undefined {
  // The last one counts: a resumed session (another worktree) also carries the earlier one.
  const texts = [...request.messages.filter((m) => m.role === 'system').flatMap((m) => textsOf(m.content)), ...textsOf(request.system)].reverse();
  for (const pattern of CWD_PATTERNS) {
    for (const text of texts) {
      const dir = pattern.exec(text)?.[1];
      if (dir) return dir;
    }
  }
  return undefined;
}

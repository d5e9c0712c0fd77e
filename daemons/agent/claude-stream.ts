/**
 * Reads the Claude Code CLI's `--output-format stream-json` events (one JSON
 * object per line): tolerates non-JSON noise, turns events into short progress
 * lines, and recognises the final `result` event.
 */

export interface ResultEvent {
  type: 'result';
  subtype: string;
  is_error: boolean;
  num_turns?: number;
  total_cost_usd?: number;
  session_id?: string;
  result?: string;
  errors?: string[];
  api_error_status?: number;
  duration_ms?: number;
}

/** A JSON object from a line, or undefined for noise. */
export function parseEvent(line: string): Record<string, unknown> | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(trimmed) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function isResultEvent(event: Record<string, unknown>): event is Record<string, unknown> & ResultEvent {
  return event.type === 'result' && typeof event.subtype === 'string' && typeof event.is_error === 'boolean';
}

const short = (text: string, max = 200) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** Human-sized progress lines for an event: tool calls and short assistant text. */
export function progressLines(event: Record<string, unknown>): string[] {
  if (event.type === 'system' && event.subtype === 'init') return [`claude ${String(event.claude_code_version ?? '')} started (model ${String(event.model ?? '?')})`.replace('  ', ' ')];
  if (event.type !== 'assistant') return [];
  const content = (event.message as { content?: unknown } | undefined)?.content;
  if (!Array.isArray(content)) return [];
  const lines: string[] = [];
  for (const block of content as Array<Record<string, unknown>>) {
    if (block.type === 'text' && typeof block.text === 'string' && block.text.trim()) lines.push(short(block.text.trim().replace(/\s+/g, ' ')));
    if (block.type === 'tool_use') lines.push(`tool ${String(block.name)}: ${short(describeInput(block.input), 160)}`);
  }
  return lines;
}

function describeInput(input: unknown): string {
  if (!input || typeof input !== 'object') return '';
  const i = input as Record<string, unknown>;
  for (const key of ['command', 'file_path', 'path', 'pattern', 'url']) if (typeof i[key] === 'string') return i[key] as string;
  return JSON.stringify(input);
}

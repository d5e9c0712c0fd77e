/** A scripted turn as the Messages API sends it: server-sent events when streaming, one JSON message otherwise; errors in Anthropic's shape. */
import type { ApiError, ScriptedTurn } from './script.js';

export interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

export interface TurnMeta {
  id: string;
  model: string;
  inputTokens: number;
}

/** Deltas come in pieces of this size, so a client must put them back together as with the real API. */
const CHUNK = 48;

function chunks(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += CHUNK) out.push(text.slice(i, i + CHUNK));
  return out.length ? out : [''];
}

/** A rough token count (four characters a token), never zero: enough for the CLI to report a cost. */
export function estimateTokens(value: unknown): number {
  return Math.max(1, Math.ceil(JSON.stringify(value ?? '').length / 4));
}

export function outputTokens(turn: ScriptedTurn): number {
  return estimateTokens(turn.content);
}

/** message_start → per block content_block_start / _delta… / _stop → message_delta → message_stop. */
export function sseEvents(turn: ScriptedTurn, meta: TurnMeta): SseEvent[] {
  const usage = { input_tokens: meta.inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 };
  const events: SseEvent[] = [{
    event: 'message_start',
    data: { type: 'message_start', message: { id: meta.id, type: 'message', role: 'assistant', model: meta.model, content: [], stop_reason: null, stop_sequence: null, usage } },
  }];
  turn.content.forEach((block, index) => {
    const start = block.type === 'text' ? { type: 'text', text: '' } : { type: 'tool_use', id: block.id, name: block.name, input: {} };
    events.push({ event: 'content_block_start', data: { type: 'content_block_start', index, content_block: start } });
    const pieces = block.type === 'text' ? chunks(block.text) : chunks(JSON.stringify(block.input));
    for (const piece of pieces) {
      const delta = block.type === 'text' ? { type: 'text_delta', text: piece } : { type: 'input_json_delta', partial_json: piece };
      events.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta } });
    }
    events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
  });
  events.push({
    event: 'message_delta',
    data: { type: 'message_delta', delta: { stop_reason: turn.stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens(turn) } },
  });
  events.push({ event: 'message_stop', data: { type: 'message_stop' } });
  return events;
}

export function formatSse({ event, data }: SseEvent): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The non-streaming answer: the whole message at once. */
export function messageJson(turn: ScriptedTurn, meta: TurnMeta): Record<string, unknown> {
  return {
    id: meta.id, type: 'message', role: 'assistant', model: meta.model, content: turn.content,
    stop_reason: turn.stopReason, stop_sequence: null,
    usage: { input_tokens: meta.inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: outputTokens(turn) },
  };
}

export function errorJson(error: Pick<ApiError, 'type' | 'message'>): Record<string, unknown> {
  return { type: 'error', error: { type: error.type, message: error.message } };
}

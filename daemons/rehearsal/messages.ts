/** The part of a Messages API request the rehearsal model reads, as a schema, and helpers to get text out of it. */
import { z } from 'zod';

const block = z.looseObject({ type: z.string() });
const content = z.union([z.string(), z.array(block)]);

export const messagesRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(z.looseObject({ role: z.string(), content })),
  // The CLI sends a list of text blocks; the API also accepts a string.
  system: content.optional(),
  stream: z.boolean().optional(),
  max_tokens: z.number().optional(),
});

export type MessagesRequest = z.infer<typeof messagesRequestSchema>;
export type RequestMessage = MessagesRequest['messages'][number];
type Block = z.infer<typeof block>;

function blocks(c: string | Block[]): Block[] {
  return typeof c === 'string' ? [{ type: 'text', text: c }] : c;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** The text blocks of a message or system field, in order (tool results and images left out). */
export function textsOf(c: string | Block[] | undefined): string[] {
  if (c === undefined) return [];
  return blocks(c).filter((b) => b.type === 'text').map((b) => str(b.text));
}

export interface ToolUse { id: string; name: string; input: Record<string, unknown> }
export interface ToolResult { toolUseId: string; text: string; isError: boolean }

/** Every tool_use the assistant has made so far, oldest first. */
export function toolUses(messages: readonly RequestMessage[]): ToolUse[] {
  return messages
    .filter((m) => m.role === 'assistant')
    .flatMap((m) => blocks(m.content))
    .filter((b) => b.type === 'tool_use')
    .map((b) => ({ id: str(b.id), name: str(b.name), input: (b.input ?? {}) as Record<string, unknown> }));
}

/** Every tool_result sent back so far, oldest first; a result's content may be a string or text blocks. */
export function toolResults(messages: readonly RequestMessage[]): ToolResult[] {
  return messages
    .filter((m) => m.role === 'user')
    .flatMap((m) => blocks(m.content))
    .filter((b) => b.type === 'tool_result')
    .map((b) => ({
      toolUseId: str(b.tool_use_id),
      text: typeof b.content === 'string' ? b.content : Array.isArray(b.content) ? textsOf(b.content as Block[]).join('\n') : '',
      isError: b.is_error === true,
    }));
}

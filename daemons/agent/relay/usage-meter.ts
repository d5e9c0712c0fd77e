/**
 * Meters one task's model use from the Messages API answers it relays: token
 * counts from `usage` (the SSE `message_start` / `message_delta` events, or a
 * plain JSON message), and a cost estimate from list prices per model family.
 */

export interface Usage {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** An estimate at list prices (USD per million tokens); the CLI's own total_cost_usd is the same kind of estimate. */
  costUsd: number;
}

/** USD per million tokens [input, output] by model family; anything unknown is priced as sonnet. */
const PRICES: Array<[RegExp, number, number]> = [
  [/opus-4-[5-9]|opus-[5-9]/, 5, 25],
  [/opus/, 15, 75],
  [/haiku-4|haiku-[5-9]/, 1, 5],
  [/haiku/, 0.8, 4],
  [/.*/, 3, 15],
];

export function emptyUsage(): Usage {
  return { requests: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 };
}

interface UsageFields { input_tokens?: unknown; output_tokens?: unknown; cache_read_input_tokens?: unknown; cache_creation_input_tokens?: unknown }
const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

/** Adds one `usage` object of a model's answer to `total`. */
export function addUsage(total: Usage, model: string, usage: UsageFields): void {
  const [, inPrice, outPrice] = PRICES.find(([re]) => re.test(model))!;
  const input = n(usage.input_tokens), output = n(usage.output_tokens);
  const read = n(usage.cache_read_input_tokens), write = n(usage.cache_creation_input_tokens);
  total.inputTokens += input;
  total.outputTokens += output;
  total.cacheReadTokens += read;
  total.cacheWriteTokens += write;
  total.costUsd += (input * inPrice + output * outPrice + read * inPrice * 0.1 + write * inPrice * 1.25) / 1e6;
}

/** Reads a response body as it streams past (SSE `data:` lines, or one JSON message) and counts its usage. */
export class ResponseMeter {
  private buffer = '';
  private model = '';
  private readonly sse: boolean;

  constructor(private readonly total: Usage, contentType: string) {
    this.sse = contentType.includes('text/event-stream');
    total.requests++;
  }

  push(chunk: Buffer): void {
    if (this.buffer.length > 4_000_000) return; // a plain JSON answer this big is not worth metering
    this.buffer += chunk.toString('utf8');
    if (!this.sse) return;
    let nl;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line.startsWith('data:')) this.event(line.slice(5));
    }
  }

  end(): void {
    if (!this.sse) this.event(this.buffer);
    this.buffer = '';
  }

  private event(text: string): void {
    let value: { type?: string; model?: string; usage?: UsageFields; message?: { model?: string; usage?: UsageFields } };
    try { value = JSON.parse(text) as typeof value; } catch { return; }
    if (value.type === 'message_start' && value.message) {
      this.model = value.message.model ?? '';
      if (value.message.usage) addUsage(this.total, this.model, { ...value.message.usage, output_tokens: 0 });
    } else if (value.type === 'message_delta' && value.usage) {
      addUsage(this.total, this.model, { output_tokens: value.usage.output_tokens });
    } else if (value.type === 'message' && value.usage) {
      addUsage(this.total, value.model ?? '', value.usage);
    }
  }
}

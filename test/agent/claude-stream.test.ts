import { describe, expect, it } from 'vitest';
import { judge } from '../../daemons/agent/claude-executor.js';
import { isResultEvent, parseEvent, progressLines } from '../../daemons/agent/claude-stream.js';
import { LineSplitter, MAX_LINE_BYTES } from '../../daemons/agent/line-splitter.js';

describe('stream-json reading', () => {
  it('joins lines split across chunks and drops an over-long line once', () => {
    const lines: string[] = [];
    let dropped = 0;
    const s = new LineSplitter((l) => lines.push(l), () => dropped++);
    s.push('{"type":"sys');
    s.push('tem"}\nnoise\n{"a":');
    s.push('1}');
    s.end();
    expect(lines).toEqual(['{"type":"system"}', 'noise', '{"a":1}']);
    const big = new LineSplitter((l) => lines.push(l), () => dropped++);
    lines.length = 0;
    big.push('x'.repeat(MAX_LINE_BYTES / 2));
    big.push('x'.repeat(MAX_LINE_BYTES / 2 + 10));
    big.push('y'.repeat(100));
    big.push('\n{"ok":true}\n');
    expect(dropped).toBe(1);
    expect(lines).toEqual(['{"ok":true}']);
  });

  it('treats noise, arrays and broken JSON as no event', () => {
    expect(parseEvent('Warning: something')).toBeUndefined();
    expect(parseEvent('[1,2]')).toBeUndefined();
    expect(parseEvent('{"type":')).toBeUndefined();
    expect(parseEvent('  {"type":"result"}  ')).toEqual({ type: 'result' });
    expect(isResultEvent({ type: 'result' })).toBe(false);
    expect(isResultEvent({ type: 'result', subtype: 'success', is_error: false })).toBe(true);
  });

  it('describes tool calls and short text as progress', () => {
    const event = { type: 'assistant', message: { content: [
      { type: 'text', text: 'I will add the endpoint.\n\nFirst the handler.' },
      { type: 'tool_use', name: 'Write', input: { file_path: '/w/server/health.py', content: 'x' } },
      { type: 'tool_use', name: 'Bash', input: { command: 'git status --short' } },
    ] } };
    expect(progressLines(event)).toEqual(['I will add the endpoint. First the handler.', 'tool Write: /w/server/health.py', 'tool Bash: git status --short']);
    expect(progressLines({ type: 'user', message: { content: [] } })).toEqual([]);
  });
});

describe('judging a result event', () => {
  const base = { type: 'result' as const, num_turns: 3, total_cost_usd: 0.01 };
  it('succeeds only on subtype success with is_error false', () => {
    expect(judge({ ...base, subtype: 'success', is_error: false, result: 'Added it.' })).toEqual({ outcome: 'succeeded', retryable: false, summary: 'Added it.' });
  });
  it('a 401 arrives as subtype success with is_error true: failed, not retryable, says what to fix', () => {
    const r = judge({ ...base, subtype: 'success', is_error: true, api_error_status: 401, result: 'Invalid API key' });
    expect(r).toMatchObject({ outcome: 'failed', retryable: false });
    expect(r.summary).toContain('ANTHROPIC_API_KEY');
  });
  it('max turns and budget are not retryable; other errors are', () => {
    expect(judge({ ...base, subtype: 'error_max_turns', is_error: true })).toMatchObject({ outcome: 'failed', retryable: false });
    expect(judge({ ...base, subtype: 'error_max_budget_usd', is_error: true })).toMatchObject({ outcome: 'failed', retryable: false });
    expect(judge({ ...base, subtype: 'success', is_error: true, api_error_status: 529 })).toMatchObject({ outcome: 'failed', retryable: true });
    expect(judge({ ...base, subtype: 'error_during_execution', is_error: true })).toMatchObject({ outcome: 'failed', retryable: true });
  });
});

/** backoffDelay: exponential, capped, jittered reconnect delays. */
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../daemons/agent/backoff.js';

const opts = { baseMs: 500, capMs: 30_000 };
const low = () => 0;
const high = () => 1;
const mid = () => 0.5;

/** A seeded LCG, so the "random" jitter is reproducible. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('backoffDelay', () => {
  it('lies in [d/2, d] for d = min(cap, base·2ⁿ)', () => {
    const random = seeded(42);
    for (let n = 0; n < 20; n++) {
      const d = Math.min(opts.capMs, opts.baseMs * 2 ** n);
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelay(n, opts, random);
        expect(delay).toBeGreaterThanOrEqual(d / 2);
        expect(delay).toBeLessThanOrEqual(d);
        expect(Number.isInteger(delay)).toBe(true);
      }
    }
  });

  it('uses Math.random by default and stays in range', () => {
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelay(3, opts);
      expect(delay).toBeGreaterThanOrEqual(2_000);
      expect(delay).toBeLessThanOrEqual(4_000);
    }
  });

  it('the bounds of the jitter are d/2 and d', () => {
    expect(backoffDelay(0, opts, low)).toBe(250);
    expect(backoffDelay(0, opts, high)).toBe(500);
    expect(backoffDelay(0, opts, mid)).toBe(375);
    expect(backoffDelay(2, opts, low)).toBe(1_000);
    expect(backoffDelay(2, opts, high)).toBe(2_000);
  });

  it('doubles with each attempt', () => {
    const ceilings = [0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, opts, high));
    expect(ceilings).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000]);
    const floors = [0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, opts, low));
    expect(floors).toEqual([250, 500, 1_000, 2_000, 4_000, 8_000]);
  });

  it('is capped', () => {
    expect(backoffDelay(6, opts, high)).toBe(30_000); // 32 000 → 30 000
    expect(backoffDelay(6, opts, low)).toBe(15_000);
    expect(backoffDelay(20, opts, high)).toBe(30_000);
    // a cap below the base caps the first attempt as well
    expect(backoffDelay(0, { baseMs: 1_000, capMs: 400 }, high)).toBe(400);
  });

  it('does not overflow for huge attempt numbers', () => {
    for (const n of [31, 100, 1_024, 1e6, Number.MAX_SAFE_INTEGER, Infinity]) {
      const hi = backoffDelay(n, opts, high);
      const lo = backoffDelay(n, opts, low);
      expect(hi).toBe(30_000);
      expect(lo).toBe(15_000);
    }
    // even without a cap, the exponent stops growing, so the result stays a finite number
    const uncapped = backoffDelay(1e9, { baseMs: 1_000, capMs: Infinity }, high);
    expect(Number.isFinite(uncapped)).toBe(true);
    expect(uncapped).toBe(backoffDelay(1e9 + 1, { baseMs: 1_000, capMs: Infinity }, high));
    // and with a cap too large to reach, too
    const big = backoffDelay(1e9, { baseMs: 1_000, capMs: Number.MAX_SAFE_INTEGER }, high);
    expect(Number.isFinite(big)).toBe(true);
    expect(big).toBeGreaterThan(0);
  });

  it('is deterministic with an injected random', () => {
    const a = seeded(7);
    const b = seeded(7);
    const seqA = Array.from({ length: 12 }, (_, n) => backoffDelay(n, opts, a));
    const seqB = Array.from({ length: 12 }, (_, n) => backoffDelay(n, opts, b));
    expect(seqA).toEqual(seqB);
    // and the jitter does vary with the random source
    const seqC = Array.from({ length: 12 }, (_, n) => backoffDelay(n, opts, seeded(8)));
    expect(seqC).not.toEqual(seqA);
  });

  it('calls random once per delay', () => {
    let calls = 0;
    backoffDelay(4, opts, () => { calls++; return 0.3; });
    expect(calls).toBe(1);
  });
});

/** Reconnect delays: exponential, capped, with jitter so a restarted coordinator is not hit by every agent at once. */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

/** Delay before reconnect number `n` (0-based): uniformly in [d/2, d] where d = min(cap, base·2ⁿ). */
export function backoffDelay(n: number, { baseMs, capMs }: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(n, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

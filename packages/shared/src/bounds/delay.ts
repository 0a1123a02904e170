/**
 * Bounding a wait someone else asked for. A server's `Retry-After` (HTTP) or
 * `retry:` (SSE) is honoured, within a cap and never past the call's
 * deadline: a `Retry-After` of a day must not park a call for a day.
 */

export interface DelayCap {
  /** The largest wait accepted. */
  maxMs: number;
  /** Epoch ms after which waiting makes no sense (the call's deadline). */
  deadline?: number | undefined;
  /** Now, for tests. */
  now?: number;
}

/** `ms` within [0, maxMs], and not past the deadline. */
export function capDelay(ms: number, cap: DelayCap): number {
  let out = Number.isFinite(ms) ? Math.max(0, Math.round(ms)) : cap.maxMs;
  out = Math.min(out, cap.maxMs);
  if (cap.deadline !== undefined) out = Math.min(out, Math.max(0, cap.deadline - (cap.now ?? Date.now())));
  return out;
}

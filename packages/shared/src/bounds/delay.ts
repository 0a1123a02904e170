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

/**
 * A duration a server gave (a task's pollInterval or ttl, an SSE `retry`) as
 * a call record may keep it: whole milliseconds within
 * [0, Number.MAX_SAFE_INTEGER] (the record's schema), or undefined for a
 * negative or non-finite one. A record holding 1e20 or -1 would fail every
 * read of it, and its call would never end; what the value means is still
 * capped where it is used (capDelay, joiner.pollMinMs..pollMaxMs).
 */
export function recordableMs(ms: number | undefined): number | undefined {
  if (ms === undefined || Number.isNaN(ms) || ms < 0) return undefined;
  return Math.min(Math.round(ms), Number.MAX_SAFE_INTEGER);
}

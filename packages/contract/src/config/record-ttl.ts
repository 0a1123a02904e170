/**
 * Call records live `streams.callsTtlMs` after their last write (the KV
 * bucket's max age: NATS 2.9 has no per-key TTL). A call whose record is not
 * written for that long would lose it, and its joiner would take the loss
 * for a takeover and drop the result. So the services rewrite ("touch") a
 * live call's record once it is `refreshAfterMs` old, and the TTL must leave
 * room for the longest time a live call can go without being handled at all.
 */
import type { Config } from './schema.js';

/** How many touches fit in one TTL: a record is touched once it is a third of its TTL old. */
export const RECORD_TTL_MARGIN = 3;

/**
 * The longest time mcpq may leave a live call untouched: a parked call comes
 * back within a poll interval (or its park lease), a backoff or a server's Retry-After; a held
 * one within a heartbeat; a dispatch within its timeout; a lost owner's
 * call is taken over within an AckWait.
 */
export function longestQuietMs(config: Config): number {
  const { submitter, joiner, limits } = config;
  return Math.max(
    submitter.ackWaitMs,
    submitter.dispatchTimeoutMs,
    submitter.retryMaxMs,
    joiner.ackWaitMs,
    joiner.pollMaxMs,
    joiner.parkLeaseMs,
    joiner.retryMaxMs,
    joiner.idleTimeoutMs,
    limits.maxRetryAfterMs,
  );
}

/** The least `streams.callsTtlMs` the config allows. */
export function minRecordTtlMs(config: Config): number {
  return RECORD_TTL_MARGIN * longestQuietMs(config);
}

/** Age at which a live call's record is rewritten to keep it from expiring. */
export function recordRefreshAfterMs(config: Config): number {
  return Math.floor(config.streams.callsTtlMs / RECORD_TTL_MARGIN);
}

/**
 * Telling mcpq's own infrastructure failing (NATS unreachable, JetStream
 * timing out) from the MCP server failing. The first must never become a
 * call's outcome: the work is retried once NATS answers again.
 */
import {
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  PermissionViolationError,
  RequestError,
  TimeoutError,
} from '@nats-io/nats-core';
import { JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import { sleep } from '../backoff.js';

/** True for errors raised by NATS or JetStream themselves (not by an MCP server), here or in their cause. */
export function isNatsError(err: unknown): boolean {
  for (let cur: unknown = err, depth = 0; cur !== undefined && cur !== null && depth < 4; depth++) {
    if (isNatsErrorItself(cur)) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * A request NATS refused because this user may not publish (or subscribe)
 * there. nats.js reports it as a RequestError whose cause is the
 * PermissionViolationError, at once: asking again cannot change the answer,
 * so no retry loop may wait it out (a reader that did took its whole bound
 * to fail).
 */
export function isPermissionViolation(err: unknown): boolean {
  for (let cur: unknown = err, depth = 0; cur !== undefined && cur !== null && depth < 4; depth++) {
    if (cur instanceof PermissionViolationError) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * nats.js reports "no responders" on a JetStream publish as JetStreamNotEnabled
 * ("jetstream is not enabled"), also when JetStream is enabled but the stream is
 * not loaded yet (right after a server restart). That class is not exported, so
 * it is recognised by name, and by its NoRespondersError cause.
 */
function isNatsErrorItself(err: unknown): boolean {
  return (
    (err instanceof Error && err.name === 'JetStreamNotEnabled') ||
    err instanceof TimeoutError ||
    err instanceof ConnectionError ||
    err instanceof ClosedConnectionError ||
    err instanceof DrainingConnectionError ||
    err instanceof NoRespondersError ||
    err instanceof RequestError ||
    err instanceof JetStreamError ||
    (err instanceof JetStreamApiError && err.status >= 500)
  );
}

export interface NatsRetryOptions {
  /** Stop retrying at this time (ms since the epoch): the last error is thrown. */
  until: number;
  /** Which errors are worth another try. Default: NATS's own (`isNatsError`). */
  retryable?: (err: unknown) => boolean;
  /** Step of the linear backoff: the n-th wait is n × stepMs, at most 2 s and never past `until`. Default 200 ms. */
  stepMs?: number;
}

/**
 * The one "retry while NATS fails" loop: runs `fn(attempt)` (attempt 1, 2,
 * ...) until it succeeds, fails with an error that is not retryable, or
 * `until` passes. Bounded by `until`.
 */
export async function retryWhileNatsFails<T>(fn: (attempt: number) => Promise<T>, options: NatsRetryOptions): Promise<T> {
  const retryable = options.retryable ?? isNatsError;
  const step = options.stepMs ?? 200;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!retryable(err) || Date.now() >= options.until) throw err;
      await sleep(Math.min(step * attempt, 2_000, Math.max(0, options.until - Date.now())));
    }
  }
}

/**
 * Runs `fn`, retrying while NATS fails (bounded by `boundMs`), for the steps
 * that must not be lost once work upstream has started (recording a token).
 */
export async function whileNatsFails<T>(fn: () => Promise<T>, boundMs: number): Promise<T> {
  return retryWhileNatsFails(() => fn(), { until: Date.now() + boundMs });
}

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
import { JetStreamApiCodes, JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import { sleep } from '../backoff.js';
import { ErrorCode, McpqError } from '../errors.js';

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

/** JetStream's answer that the stream does not exist: no retry brings it. */
export function isStreamNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;
}

/** `err` as a `nats_error` McpqError saying what could not be done (an McpqError is returned as it is). */
export function natsFailure(err: unknown, what: string): McpqError {
  if (err instanceof McpqError) return err;
  const detail = isStreamNotFound(err) ? 'stream not found' : err instanceof Error ? err.message : String(err);
  return new McpqError(ErrorCode.nats_error, `${what}: ${detail}`, { cause: err });
}

/**
 * The one way a caller waiting for an answer reads mcpq's state (a call
 * record, an event): NATS failing (a timeout, a JetStream leader election, a
 * reconnect) is ridden out until `until`; a missing stream, a refusal by NATS
 * permissions and mcpq's own verdict on what was read (an McpqError other
 * than nats_error) fail at once, asking again would not change them. A read
 * that still fails throws a `nats_error` McpqError saying `what` could not
 * be read: a failed read is never taken for "nothing there".
 */
export async function readWhileNatsFails<T>(read: () => Promise<T>, options: { until: number; what: string }): Promise<T> {
  const retryable = (err: unknown) =>
    !isStreamNotFound(err) && !isPermissionViolation(err) && !(err instanceof McpqError && err.code !== ErrorCode.nats_error);
  try {
    return await retryWhileNatsFails(read, { until: options.until, stepMs: 250, retryable });
  } catch (err) {
    throw natsFailure(err, options.what);
  }
}

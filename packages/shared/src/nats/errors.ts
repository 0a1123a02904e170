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
  RequestError,
  TimeoutError,
} from '@nats-io/nats-core';
import { JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import { sleep } from '../runtime/backoff.js';

/** True for errors raised by NATS or JetStream themselves (not by an MCP server), here or in their cause. */
export function isNatsError(err: unknown): boolean {
  for (let cur: unknown = err, depth = 0; cur !== undefined && cur !== null && depth < 4; depth++) {
    if (isNatsErrorItself(cur)) return true;
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

/**
 * Runs `fn`, retrying while NATS fails (bounded by `boundMs`), for the steps
 * that must not be lost once work upstream has started (recording a token).
 */
export async function whileNatsFails<T>(fn: () => Promise<T>, boundMs: number): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isNatsError(err) || Date.now() >= deadline) throw err;
      await sleep(Math.min(200 * attempt, 2_000, Math.max(0, deadline - Date.now())));
    }
  }
}

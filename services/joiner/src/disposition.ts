/**
 * What following a call (one delivery of its join message) came to. The
 * mode-specific followers return one; the Joiner turns it into ack, nak or
 * a final result, the same way for every mode.
 */
import { ErrorCode, isMcpqError, isNatsError, type CallRecord, type McpqError, type Outcome, type Versioned } from '@mcpq/shared';
import type { CallWatch, StopReason } from './stop-reasons.js';

export type Disposition =
  /** The call ended with this outcome; the Joiner finishes it (CAS, then the result). */
  | { kind: 'outcome'; outcome: Outcome; record: Versioned<CallRecord> }
  /** Nothing to do now: give the join back to the queue, to be delivered again after `delayMs`. */
  | { kind: 'park'; delayMs: number; why: string }
  /**
   * A transient failure: try again after a backoff. With `record`, the
   * failure counts toward joiner.maxRejoinFailures.
   */
  | { kind: 'retry'; error: McpqError; record?: Versioned<CallRecord> }
  /** The follower was stopped on purpose (deadline, idle, shutdown, ...). */
  | { kind: 'stopped'; reason: StopReason; record: Versioned<CallRecord> }
  /** A compare-and-set failed: someone else changed the record. */
  | { kind: 'lost' };

/**
 * An error while following a call that is not the MCP server's doing: the
 * follower was stopped on purpose, or lost a compare-and-set, or NATS failed
 * (rethrown: mcpq's own infrastructure, retried by the work loop). Undefined
 * when the error is the server's, for the follower to judge.
 */
export function interrupted(err: unknown, watch: CallWatch, current: Versioned<CallRecord>): Disposition | undefined {
  const reason = watch.reason;
  if (reason) return { kind: 'stopped', reason, record: current };
  if (isMcpqError(err, ErrorCode.record_conflict)) return { kind: 'lost' };
  if (isNatsError(err)) throw err;
  return undefined;
}

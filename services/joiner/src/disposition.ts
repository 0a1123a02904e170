/**
 * What following a call (one delivery of its join message) came to. The
 * mode-specific followers return one; the Joiner turns it into ack, nak or
 * a final result, the same way for every mode.
 */
import type { CallRecord, McpqError, Outcome, Versioned } from '@mcpq/shared';
import type { StopReason } from './stop-reasons.js';

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

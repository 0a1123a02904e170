/**
 * What every follower shares: its dependencies, what following a call came
 * to (a Disposition, which the Joiner turns into ack, nak or a final
 * result, the same way for every mode), the handling of interruptions, the
 * rejoin bookkeeping; the classifier of a followed call's stream events is
 * shared (@mcpq/shared mcp/call-stream.ts).
 */
import {
  ErrorCode,
  isMcpqError,
  isNatsError,
  type CallRecord,
  type CallRequest,
  type Logger,
  type McpHttpClient,
  type McpqError,
  type ModernMcpClient,
  type Mode,
  type Outcome,
  type ServerSession,
  type ServiceContext,
  type Span,
  type Versioned,
} from '@mcpq/shared';
import { MODERN_PROTOCOL_VERSION } from '@mcpq/shared';
import type { CallWatch, StopReason } from './call-watch.js';

/** Whether this is a 2026-07-28 call (followed by ./modern.ts, whatever its mode; other modes' followers ask it too). */
export function isModernCall(record: Pick<CallRecord, 'protocol'>): boolean {
  return record.protocol === MODERN_PROTOCOL_VERSION;
}

export interface FollowDeps {
  ctx: ServiceContext;
  client: McpHttpClient;
  watch: CallWatch;
  /** When this delivery started (for the rejoin latency). */
  startedAt: number;
  /** The joiner's own session with the server, for calls it sends itself (hold mode, re-dispatch). */
  sessions: ServerSession;
  /** The server's MCP 2026-07-28 client (calls whose record says `protocol: 2026-07-28`). */
  modern: ModernMcpClient;
  joinerId: string;
  /** The call's request, carried by the join when the joiner may have to send it (hold mode, idempotent calls). */
  request: CallRequest | undefined;
  log: Logger;
  /** This delivery's "mcpq rejoin" span: the parent of the hop to the MCP server when the joiner sends the call. */
  span: Span;
}

/** What a task watcher needs to learn a parked call's task state (small strings only). */
export interface TaskToWatch {
  taskId: string;
  /** 2025-11-25 tasks are asked in the submitter's session; 2026-07-28 ones through the modern client. */
  era: 'classic' | 'modern';
  sessionId: string | undefined;
  protocolVersion: string;
  /** The task's status and statusMessage as recorded: a change worth publishing wakes the call. */
  status: string | undefined;
  message: string | undefined;
  /** Least time between two looks at this task (the poll delay the follower chose). */
  pollMs: number;
}

/** Follows one delivery of a call's join in one mode. */
export type Follower = (deps: FollowDeps, record: Versioned<CallRecord>) => Promise<Disposition>;

export type Disposition =
  /** The call ended with this outcome; the Joiner finishes it (CAS, then the result). */
  | { kind: 'outcome'; outcome: Outcome; record: Versioned<CallRecord> }
  /**
   * Nothing to do now: give the join back to the queue, to be delivered again after `delayMs`.
   * With `task`, a task still running: the Joiner may park it for a lease and let its task
   * watcher wake it (../parked).
   */
  | { kind: 'park'; delayMs: number; why: string; task?: TaskToWatch }
  /**
   * A transient failure: try again after a backoff. With `record`, the
   * failure counts toward joiner.maxRejoinFailures.
   */
  | { kind: 'retry'; error: McpqError; record?: Versioned<CallRecord> }
  /** The follower was stopped on purpose (deadline, idle, shutdown, ...). */
  | { kind: 'stopped'; reason: StopReason; record: Versioned<CallRecord> }
  /** A compare-and-set failed: someone else changed the record. */
  | { kind: 'lost' };

/** The call ends failed with `error`. */
export function failed(record: Versioned<CallRecord>, error: Outcome['error']): Disposition {
  return { kind: 'outcome', record, outcome: { status: 'failed', ...(error ? { error } : {}) } };
}

/** After a failure the server may recover from: retry it if transient, else the call ends failed with it. */
export function retryOrFail(record: Versioned<CallRecord>, error: McpqError): Disposition {
  return error.retryable ? { kind: 'retry', error, record } : failed(record, error.toWire());
}

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

/** Runs a record write; a lost compare-and-set becomes `lost`. */
export async function unlessLost(write: () => Promise<unknown>, then: Disposition): Promise<Disposition> {
  try {
    await write();
  } catch (err) {
    if (isMcpqError(err, ErrorCode.record_conflict)) return { kind: 'lost' };
    throw err;
  }
  return then;
}

/** Reports that the call is being followed again (stream open, poll answered). */
export function rejoined(deps: FollowDeps, callId: string, mode: Mode, server?: string): void {
  deps.ctx.telemetry.emit('call:rejoined', { callId, server, mode, latencyMs: Date.now() - deps.startedAt });
}

/** A rejoin worked: forget the failures counted so far. */
export async function clearFailures(ctx: ServiceContext, current: Versioned<CallRecord>): Promise<Versioned<CallRecord>> {
  return current.value.rejoinFailures || current.value.streamConflicts
    ? ctx.store.update(current, { rejoinFailures: 0, streamConflicts: undefined, lastError: undefined })
    : current;
}

// The classifier of a call's stream events and the answer to server requests are shared with the submitter's fast path.
export { answerServerRequest, callStreamEvent, type CallStreamEvent, type ProgressUpdate } from '@mcpq/shared';

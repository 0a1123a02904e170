/**
 * Starting a new attempt of a call: the one write that says "tools/call is
 * about to be sent". The record goes to `dispatching` with attempts + 1, the
 * sender as owner, the session it sends in and a new JSON-RPC id and
 * progress token (so an answer to an earlier attempt is never taken for this
 * one). Whoever later finds the record still `dispatching` knows the sender
 * vanished with the call possibly in flight, and asks `decideRerun`.
 *
 * Used by the submitter (every dispatch) and the joiner (hold mode, and
 * re-dispatching an idempotent call whose session the server lost). Both
 * write through a short NATS outage, bounded by submitter.dispatchTimeoutMs,
 * the same bound that limits the send itself.
 */
import { toolCallIds, type ToolCallIds } from '../mcp/tool-call.js';
import { type CallRecord, type Versioned } from '@mcpq/contract';
import type { CallStore, RecordPatch } from './store.js';

export interface AttemptStart {
  /** The process that sends the call (submitter or joiner id). */
  owner: string;
  /** The MCP session the call is sent in. */
  session: { sessionId?: string | undefined; protocolVersion: string };
  /** More fields to write with it (the mode, or clearing a previous attempt's rejoin state). */
  patch?: RecordPatch;
  /** How long to keep trying through a NATS outage. */
  boundMs: number;
}

export interface Attempt {
  attempt: number;
  ids: ToolCallIds;
  current: Versioned<CallRecord>;
}

/**
 * The record fields that say "attempt `attempt` of the call is being sent":
 * one home for them, written by `beginAttempt` on an existing record, or at
 * creation by a submitter that starts the call at once (its first write then
 * carries both states: claimed and dispatching).
 */
export function attemptFields(
  callId: string,
  attempt: number,
  start: Omit<AttemptStart, 'boundMs'>,
): { ids: ToolCallIds; patch: RecordPatch } {
  const ids = toolCallIds(callId, attempt);
  return {
    ids,
    patch: {
      ...start.patch,
      status: 'dispatching',
      owner: start.owner,
      attempts: attempt,
      sessionId: start.session.sessionId,
      protocolVersion: start.session.protocolVersion,
      requestId: ids.requestId,
      progressToken: ids.progressToken,
    },
  };
}

/** Records a new attempt (throws record_conflict when another process changed the record). */
export async function beginAttempt(store: CallStore, found: Versioned<CallRecord>, start: AttemptStart): Promise<Attempt> {
  const attempt = found.value.attempts + 1;
  const { ids, patch } = attemptFields(found.value.callId, attempt, start);
  const current = await store.updateThroughOutage(found, patch, start.boundMs);
  return { attempt, ids, current };
}

/**
 * The MCP server lost the session of an idempotent call (it restarted, or
 * expired the session or the task): start the call again in this joiner's
 * own session, record how to rejoin the new run, and hand the call back to
 * the queue to be followed. `attempts` grows by one; a call that is not
 * idempotent is never run again this way (it ends `session_lost`).
 */
import {
  childTraceparent,
  DispatchError,
  ErrorCode,
  isMcpqError,
  isNatsError,
  startCall,
  toMcpqError,
  type CallRecord,
  type Versioned,
} from '@mcpq/shared';
import type { Disposition } from './disposition.js';
import { beginAttempt, type HoldDeps } from './follow-hold.js';

/** Whether a lost session may be replaced by a new run of the call. */
export function canRedispatch(record: CallRecord, deps: Pick<HoldDeps, 'ctx' | 'request'>): boolean {
  return record.idempotent && deps.request !== undefined && record.attempts < deps.ctx.config.joiner.maxAttempts && record.mode !== 'hold';
}

export async function redispatch(deps: HoldDeps, found: Versioned<CallRecord>): Promise<Disposition> {
  const { ctx, request } = deps;
  const rec = found.value;
  const mode = rec.mode === 'task' ? 'task' : 'resume';
  const begun = await beginAttempt(deps, found, {
    lastEventId: undefined,
    taskId: undefined,
    taskStatus: undefined,
    taskStatusMessage: undefined,
    lastProgress: undefined,
  });
  if ('kind' in begun) return begun;
  const { session, ids, attempt, current } = begun;
  const server = ctx.config.servers[rec.server]!;
  try {
    const started = await startCall(deps.client, session, mode, ids, rec.callId, request!, {
      timeoutMs: server.requestTimeoutMs,
      taskTtlMs: server.taskTtlMs,
      traceparent: rec.traceparent ? childTraceparent(rec.traceparent) : undefined,
    });
    if (started.kind === 'finished') return { kind: 'outcome', record: current, outcome: started.outcome };
    await ctx.store.update(current, { ...started.patch, status: 'dispatched' });
    await ctx.events.status(rec.callId, 'dispatched', {
      mode,
      attempt,
      detail: 'the MCP server lost the session; the call is idempotent and was started again',
      traceparent: rec.traceparent,
    });
    return { kind: 'park', delayMs: 0, why: 'dispatched again' };
  } catch (err) {
    if (isMcpqError(err, ErrorCode.record_conflict)) return { kind: 'lost' };
    if (isNatsError(err)) throw err;
    const error = err instanceof DispatchError ? err.error : toMcpqError(err);
    if (error.code === ErrorCode.session_lost) await deps.sessions.invalidate(session);
    // Idempotent: whatever happened upstream, trying again is safe.
    try {
      await ctx.store.update(current, { status: 'dispatched', lastError: error.toWire() });
    } catch (e) {
      if (isMcpqError(e, ErrorCode.record_conflict)) return { kind: 'lost' };
      throw e;
    }
    return { kind: 'retry', error: error.retryable ? error : toMcpqError(err, ErrorCode.server_unreachable) };
  }
}

/**
 * Hold mode, for servers that give no way to rejoin a call (no SSE event
 * ids, no tasks): this joiner makes the call itself and holds its stream to
 * the end. The record says `dispatching` from just before the request is
 * sent; a later delivery that finds it so knows the holder died with the
 * call in flight, and ends it `outcome_unknown` unless the tool is
 * idempotent, in which case it runs it again (and `attempts` says so).
 */
import {
  childTraceparent,
  ErrorCode,
  isMcpqError,
  McpqError,
  outcomeOfResponse,
  readResponse,
  readSse,
  requestReachedServer,
  toMcpqError,
  toolCallIds,
  toolCallMessage,
  type CallRecord,
  type CallRequest,
  type InitializedSession,
  type RecordPatch,
  type ToolCallIds,
  type ServerSession,
  type Versioned,
} from '@mcpq/shared';
import { interrupted, type Disposition } from './disposition.js';
import { answerServerRequest, rejoined, type FollowDeps } from './follow-resume.js';
import { callStreamEvent, publishProgress } from './progress.js';

export interface HoldDeps extends FollowDeps {
  sessions: ServerSession;
  joinerId: string;
  request: CallRequest | undefined;
}

export async function followHold(deps: HoldDeps, found: Versioned<CallRecord>): Promise<Disposition> {
  const { ctx, watch, request } = deps;
  const rec = found.value;
  if (!request) {
    return {
      kind: 'outcome',
      record: found,
      outcome: { status: 'failed', error: { code: ErrorCode.internal, message: 'hold-mode join carries no request' } },
    };
  }
  if (rec.status === 'dispatching' && !rec.idempotent) {
    return {
      kind: 'outcome',
      record: found,
      outcome: {
        status: 'failed',
        error: {
          code: ErrorCode.outcome_unknown,
          message:
            'the joiner holding this call stopped before the call ended (hold mode: the server offers no way to rejoin); the tool may or may not have finished, and it is not idempotent, so it was not run again',
        },
      },
    };
  }
  const begun = await beginAttempt(deps, found);
  if ('kind' in begun) return begun;
  const { session, ids, attempt } = begun;
  let { current } = begun;
  let reached: 'no' | 'maybe' = 'no';
  try {
    const traceparent = rec.traceparent ? childTraceparent(rec.traceparent) : undefined;
    const res = await deps.client.post(session, toolCallMessage(ids, rec.callId, request, { traceparent }), { signal: watch.signal });
    reached = 'maybe';
    rejoined(deps, rec.callId, 'hold');
    await ctx.events.status(rec.callId, 'running', { mode: 'hold', attempt, traceparent: rec.traceparent });
    const type = res.headers.get('content-type') ?? '';
    if (!type.includes('text/event-stream') || !res.body) {
      const m = await readResponse(res, ids.requestId);
      if (m.kind === 'result' || m.kind === 'error') return { kind: 'outcome', record: current, outcome: outcomeOfResponse(m.message) };
    } else {
      for await (const event of readSse(res.body)) {
        const e = callStreamEvent(event.data, ids.requestId, ids.progressToken);
        if (e.kind === 'response') return { kind: 'outcome', record: current, outcome: outcomeOfResponse(e.message) };
        if (e.kind === 'progress') current = await publishProgress(ctx, current, e.update, (seq) => `h${attempt}.${seq}`);
        else if (e.kind === 'request') void answerServerRequest(deps.client, session, e.message);
      }
    }
    throw new McpqError(ErrorCode.protocol_error, 'the held stream ended without a response');
  } catch (err) {
    const interruption = interrupted(err, watch, current);
    if (interruption) return interruption;
    const error = toMcpqError(err, ErrorCode.server_unreachable);
    if (error.code === ErrorCode.session_lost) await deps.sessions.invalidate(session);
    const notSent = reached === 'no' && requestReachedServer(err) === 'no';
    const canRetry = attempt < ctx.config.joiner.maxAttempts;
    if (notSent && (error.retryable || error.code === ErrorCode.session_lost) && canRetry) return handBack(deps, current, error);
    if (notSent) return { kind: 'outcome', record: current, outcome: { status: 'failed', error: error.toWire() } };
    if (current.value.idempotent && canRetry) return handBack(deps, current, error);
    return {
      kind: 'outcome',
      record: current,
      outcome: {
        status: 'failed',
        error: current.value.idempotent
          ? { code: error.code, message: `gave up after ${attempt} attempts: ${error.message}`, data: { cause: error.toWire() } }
          : {
              code: ErrorCode.outcome_unknown,
              message: `the held call broke off after it reached the server: ${error.message}; not run again (tool not idempotent)`,
              data: { cause: error.toWire() },
            },
      },
    };
  }
}

/**
 * Opens this joiner's session with the server and records a new attempt:
 * status `dispatching`, new JSON-RPC id and progress token (and `reset`).
 * Returns what to do instead when the server cannot be reached or another
 * process changed the record.
 */
export async function beginAttempt(
  deps: HoldDeps,
  found: Versioned<CallRecord>,
  reset: RecordPatch = {},
): Promise<{ session: InitializedSession; ids: ToolCallIds; attempt: number; current: Versioned<CallRecord> } | Disposition> {
  let session: InitializedSession;
  try {
    session = await deps.sessions.session();
  } catch (err) {
    const error = toMcpqError(err, ErrorCode.server_unreachable);
    return error.retryable
      ? { kind: 'retry', error, record: found }
      : { kind: 'outcome', record: found, outcome: { status: 'failed', error: error.toWire() } };
  }
  const attempt = found.value.attempts + 1;
  const ids = toolCallIds(found.value.callId, attempt);
  try {
    const current = await deps.ctx.store.update(found, {
      ...reset,
      status: 'dispatching',
      owner: deps.joinerId,
      attempts: attempt,
      sessionId: session.sessionId,
      protocolVersion: session.protocolVersion,
      requestId: ids.requestId,
      progressToken: ids.progressToken,
    });
    return { session, ids, attempt, current };
  } catch (err) {
    if (isMcpqError(err, ErrorCode.record_conflict)) return { kind: 'lost' };
    throw err;
  }
}

/** The call did not run (or may safely run again): back to `dispatched`, retried after a backoff. */
async function handBack(deps: HoldDeps, current: Versioned<CallRecord>, error: McpqError): Promise<Disposition> {
  try {
    await deps.ctx.store.update(current, { status: 'dispatched' });
  } catch (err) {
    if (isMcpqError(err, ErrorCode.record_conflict)) return { kind: 'lost' };
    throw err;
  }
  return { kind: 'retry', error };
}

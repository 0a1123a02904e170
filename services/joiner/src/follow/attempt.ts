/**
 * The joiner starting a new attempt of a call and handing a call back to the
 * queue. A new attempt is sent in the joiner's own session: by the hold
 * follower (each attempt of a held call), and by the re-dispatch of an
 * idempotent resume- or task-mode call whose session the server lost. Whether
 * a call may run again at all is `decideRerun`'s to say (see `rerunAfterLoss`).
 */
import {
  beginAttempt,
  hopTraceparent,
  decideRerun,
  DispatchError,
  ErrorCode,
  isMcpqError,
  isNatsError,
  isRefusedAnswer,
  startCall,
  toMcpqError,
  type Attempt,
  type CallRecord,
  type InitializedSession,
  type McpqError,
  type RecordPatch,
  type RerunVerdict,
  type Versioned,
} from '@mcpq/shared';
import { failed, retryOrFail, unlessLost, type Disposition, type FollowDeps } from './common.js';

/**
 * May a call whose run was lost (`sent`: it may have, or did, reach the
 * server) be run again by this joiner? Only with the request at hand (the
 * join carries it for idempotent calls) and attempts left.
 */
export function rerunAfterLoss(deps: FollowDeps, rec: CallRecord, sent: 'maybe' | 'yes'): RerunVerdict {
  return decideRerun({
    idempotent: rec.idempotent && deps.request !== undefined,
    sent,
    transient: true,
    attemptsLeft: rec.attempts < deps.ctx.config.joiner.maxAttempts,
    answered: false,
  });
}

/**
 * Opens this joiner's session with the server and records a new attempt
 * (`beginAttempt`: status `dispatching`, new JSON-RPC id and progress token,
 * and `reset`). Returns what to do instead when the server cannot be
 * reached or another process changed the record.
 */
export async function newAttempt(
  deps: FollowDeps,
  found: Versioned<CallRecord>,
  reset: RecordPatch = {},
): Promise<(Attempt & { session: InitializedSession }) | Disposition> {
  let session: InitializedSession;
  try {
    session = await deps.sessions.session();
  } catch (err) {
    return retryOrFail(found, toMcpqError(err, ErrorCode.server_unreachable));
  }
  try {
    const begun = await beginAttempt(deps.ctx.store, found, {
      owner: deps.joinerId,
      session,
      patch: reset,
      boundMs: deps.ctx.config.submitter.dispatchTimeoutMs,
    });
    return { ...begun, session };
  } catch (err) {
    if (isMcpqError(err, ErrorCode.record_conflict)) return { kind: 'lost' };
    throw err;
  }
}

/** The call did not run (or may safely run again): back to `dispatched`, retried after a backoff. */
export function handBack(
  deps: FollowDeps,
  current: Versioned<CallRecord>,
  error: McpqError,
  patch: RecordPatch = {},
): Promise<Disposition> {
  return unlessLost(() => deps.ctx.store.update(current, { ...patch, status: 'dispatched' }), { kind: 'retry', error });
}

/**
 * The MCP server lost the session of an idempotent call (it restarted, or
 * expired the session or the task): start the call again in this joiner's
 * own session, record how to rejoin the new run, and hand the call back to
 * the queue to be followed. `attempts` grows by one.
 */
export async function redispatch(deps: FollowDeps, found: Versioned<CallRecord>): Promise<Disposition> {
  const { ctx, request } = deps;
  const rec = found.value;
  if (!request)
    return failed(found, { code: ErrorCode.internal, message: 'a re-dispatch needs the request, which the join does not carry' });
  const mode = rec.mode === 'task' ? 'task' : 'resume';
  const begun = await newAttempt(deps, found, {
    lastEventId: undefined,
    taskId: undefined,
    taskStatus: undefined,
    taskStatusMessage: undefined,
    lastProgress: undefined,
  });
  if ('kind' in begun) return begun;
  const { session, ids, attempt, current } = begun;
  try {
    const started = await startCall(deps.client, session, mode, ids, rec.callId, request, {
      timeoutMs: ctx.config.submitter.dispatchTimeoutMs,
      taskTtlMs: ctx.config.servers[rec.server]!.taskTtlMs,
      traceparent: hopTraceparent(deps.span, rec.traceparent),
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
    // Idempotent: whatever happened upstream, trying again is safe (the attempts are counted; rerunAfterLoss bounds them).
    return handBack(deps, current, error.retryable ? error : toMcpqError(err, ErrorCode.server_unreachable), {
      lastError: error.toWire(),
    });
  }
}

/**
 * The joiner that sent this call itself stopped with it in flight (the
 * record still says `dispatching`), and the server offers no way to rejoin
 * it (`why` says which). A non-idempotent call ends `outcome_unknown`; an
 * idempotent one may run again (undefined: go on and send it again).
 */
export function holderVanished(deps: FollowDeps, found: Versioned<CallRecord>, why: string): Disposition | undefined {
  const rec = found.value;
  const verdict = rerunAfterLoss(deps, rec, 'maybe');
  if (verdict.verdict === 'outcome_unknown') {
    return failed(found, {
      code: ErrorCode.outcome_unknown,
      message: `the joiner holding this call stopped before the call ended (${why}); the tool may or may not have finished, and it is not idempotent, so it was not run again`,
    });
  }
  if (verdict.verdict === 'fail') {
    return failed(found, {
      code: ErrorCode.outcome_unknown,
      message: `gave up after ${rec.attempts} attempts: the joiner holding this call stopped before the call ended (${why})`,
    });
  }
  return undefined;
}

/**
 * A call this joiner sent and held broke off with `error`: hand it back to be
 * run again, or end it (`outcome_unknown` when it may have run and is not
 * idempotent), as `decideRerun` says. `sent` says whether it reached the server.
 */
export function judgeBrokenCall(
  deps: FollowDeps,
  current: Versioned<CallRecord>,
  error: McpqError,
  sent: 'no' | 'maybe',
  attempt: number,
  why: string,
): Promise<Disposition> | Disposition {
  // Once the held stream is open a break loses the answer, which a new run of an idempotent tool recovers.
  const verdict = decideRerun({
    idempotent: current.value.idempotent,
    sent,
    transient: sent !== 'no' || error.retryable || error.code === ErrorCode.session_lost,
    attemptsLeft: attempt < deps.ctx.config.joiner.maxAttempts,
    answered: isRefusedAnswer(error),
  });
  switch (verdict.verdict) {
    case 'rerun':
      return handBack(deps, current, error);
    case 'outcome_unknown':
      return failed(current, {
        code: ErrorCode.outcome_unknown,
        message: `the held call broke off after it reached the server${why}: ${error.message}; not run again (tool not idempotent)`,
        data: { cause: error.toWire() },
      });
    case 'fail':
      return failed(
        current,
        verdict.gaveUp && sent !== 'no'
          ? { code: error.code, message: `gave up after ${attempt} attempts: ${error.message}`, data: { cause: error.toWire() } }
          : error.toWire(),
      );
  }
}

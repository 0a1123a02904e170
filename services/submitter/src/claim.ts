/**
 * Claiming a callId for a submission, and what to do when it was claimed
 * before: by this very message (a redelivery: continue from the state the
 * record is in) or by another one (a duplicate: dead-letter it, run nothing).
 */
import {
  decideRerun,
  ErrorCode,
  finishCall,
  MODERN_PROTOCOL_VERSION,
  publishDeadLetter,
  republishResult,
  type CallRecord,
  type CallRequest,
  type JoinMessage,
  type Logger,
  type Mode,
  type RecordPatch,
  type ServiceContext,
  type Versioned,
} from '@mcpq/shared';
import type { JsMsg } from '@nats-io/jetstream';

export interface Submission {
  msg: JsMsg;
  server: string;
  request: CallRequest;
  log: Logger;
  traceparent?: string | undefined;
  /** Epoch milliseconds after which the call ends `timeout` (counted from when the request entered the queue). */
  deadline?: number | undefined;
  /** Written with the claim, when the submitter can start the call at once: the state its first write would set. */
  initial?: RecordPatch | undefined;
}

/** The record to dispatch from; null when the message is done with; or when to look at it again. */
export type Claim = Versioned<CallRecord> | null | { retryInMs: number };

/**
 * Claims the callId, or explains why this message must not start a call.
 * `dispatchingHere` tells whether this process is dispatching a call right now.
 */
export async function claimCall(ctx: ServiceContext, s: Submission, dispatchingHere: (callId: string) => boolean): Promise<Claim> {
  const { store } = ctx;
  const { msg, request, log } = s;
  const created = await store.create({
    callId: request.callId,
    server: s.server,
    tool: request.tool,
    status: 'accepted',
    idempotent: request.idempotent ?? false,
    submitSeq: msg.seq,
    ...(s.traceparent ? { traceparent: s.traceparent } : {}),
    ...(s.deadline !== undefined ? { deadline: s.deadline } : {}),
    ...s.initial,
  });
  if (created) {
    // Debug, not info: a log line written here (synchronously, to stdout) would delay tools/call; the call logs at info when it leaves.
    log.debug({ status: created.value.status }, 'call accepted');
    return created;
  }
  const existing = await store.get(request.callId);
  if (!existing) return claimCall(ctx, s, dispatchingHere);
  const rec = existing.value;
  if (rec.submitSeq !== msg.seq) {
    // Cancelled while queued: a record the cancel path made (no submission of its own, the cancel in it),
    // ended already or about to be (it creates the record `accepted`, then ends it `cancelled`).
    if (rec.submitSeq === undefined && (store.isTerminal(existing) || rec.cancel !== undefined)) return null;
    log.warn({ existingStatus: rec.status }, 'duplicate callId: the submission was not run');
    const message = `callId ${request.callId} is already used by a call in status ${rec.status}; this submission was not run`;
    await deadLetterSubmission(ctx, msg, ErrorCode.duplicate_call_id, message, request.callId);
    return null;
  }
  // The same message again: a previous delivery died part-way. Continue from where it stopped.
  switch (rec.status) {
    case 'accepted':
      return existing;
    case 'dispatching': {
      // A dispatch in progress has dispatchTimeoutMs to record the call (it retries through NATS
      // outages meanwhile); only after that (and an AckWait of margin) is it presumed dead.
      const inProgressFor = Date.now() - Date.parse(rec.updatedAt);
      const allowance = ctx.config.submitter.dispatchTimeoutMs + ctx.config.submitter.ackWaitMs;
      if (dispatchingHere(rec.callId) || inProgressFor < allowance) {
        log.info({ owner: rec.owner }, 'a dispatch of this call may still be recording it; looking again later');
        return { retryInMs: dispatchingHere(rec.callId) ? 1_000 : allowance - inProgressFor + 100 };
      }
      // The dispatcher vanished after it may have sent tools/call; the request is redelivered, so it may run again.
      const verdict = decideRerun({ idempotent: rec.idempotent, sent: 'maybe', transient: true, attemptsLeft: true, answered: false });
      if (verdict.verdict === 'rerun') {
        log.warn('previous dispatch was interrupted; the tool is idempotent, dispatching again');
        return store.update(existing, { status: 'accepted' });
      }
      log.warn('previous dispatch was interrupted after sending: outcome unknown');
      await finishCall(store, ctx.events, existing, {
        status: 'failed',
        error: {
          code: ErrorCode.outcome_unknown,
          message:
            'the submitter stopped after sending tools/call and before recording it; the tool may or may not have run (not idempotent, so not retried)',
        },
      });
      return null;
    }
    case 'dispatched':
    case 'running':
      await publishJoin(ctx, rec, rec.mode ?? 'resume', request);
      return null;
    default:
      await republishResult(ctx.events, rec);
      return null;
  }
}

/** Hands a dispatched call to the joiners (deduplicated per dispatch attempt). */
export async function publishJoin(ctx: ServiceContext, record: CallRecord, mode: Mode, request: CallRequest): Promise<void> {
  const join: JoinMessage = { callId: record.callId, server: record.server, mode };
  // The joiner needs the request to make the call (hold mode, every 2026-07-28 call) or to make it again (idempotent calls whose session is lost).
  if (mode === 'hold' || record.idempotent || record.protocol === MODERN_PROTOCOL_VERSION) join.request = request;
  await ctx.js.publish(ctx.names.join(record.server), JSON.stringify(join), { msgID: `${record.callId}.join.${record.attempts}` });
}

export async function deadLetterSubmission(
  ctx: ServiceContext,
  msg: JsMsg,
  code: ErrorCode,
  message: string,
  callId: string | undefined,
): Promise<void> {
  await publishDeadLetter(ctx.js, ctx.names, { reason: 'submit', code, message, msg, callId, maxPayload: ctx.nc.info?.max_payload });
  ctx.telemetry.emit('dead-letter', { reason: 'submit', code });
}

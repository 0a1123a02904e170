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
  McpqError,
  outcomeOfResponse,
  readResponse,
  readSse,
  requestReachedServer,
  toMcpqError,
  toolCallMessage,
  type CallRecord,
  type Versioned,
} from '@mcpq/shared';
import { holderVanished, judgeBrokenCall, newAttempt } from './attempt.js';
import { answerServerRequest, callStreamEvent, failed, interrupted, rejoined, type Disposition, type FollowDeps } from './common.js';
import { publishProgress } from '@mcpq/shared';

export async function followHold(deps: FollowDeps, found: Versioned<CallRecord>): Promise<Disposition> {
  const { ctx, watch, request } = deps;
  const rec = found.value;
  if (!request) return failed(found, { code: ErrorCode.internal, message: 'hold-mode join carries no request' });
  if (rec.status === 'dispatching') {
    const ended = holderVanished(deps, found, 'hold mode: the server offers no way to rejoin');
    if (ended) return ended;
  }
  const begun = await newAttempt(deps, found);
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
    const sent = reached === 'no' ? requestReachedServer(err) : reached;
    return judgeBrokenCall(deps, current, error, sent, attempt, '');
  }
}

/**
 * Hold mode, for servers that give no way to rejoin a call (no SSE event
 * ids, no tasks): this joiner makes the call itself and holds its stream to
 * the end. The record says `dispatching` from just before the request is
 * sent; a later delivery that finds it so knows the holder died with the
 * call in flight, and ends it `outcome_unknown` unless the tool is
 * idempotent, in which case it runs it again (and `attempts` says so).
 * A server may close the held stream before the answer (SEP-1699): when its
 * events carried ids, the joiner waits the server's `retry` (capped) and
 * resumes the stream with Last-Event-ID, at most joiner.maxRejoinFailures times.
 */
import {
  awaitWithTicks,
  capDelay,
  hopTraceparent,
  ErrorCode,
  McpqError,
  outcomeOfResponse,
  readResponse,
  readSse,
  headerOf,
  joinRideOutMs,
  whileNatsFails,
  recordRefreshAfterMs,
  requestReachedServer,
  TICK,
  withTicks,
  sleep,
  toMcpqError,
  toolCallMessage,
  type CallRecord,
  type SseBody,
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
    const traceparent = hopTraceparent(deps.span, rec.traceparent);
    // The held call may be silent for long (even before its answer's headers): keep its record from
    // expiring meanwhile, ridden out like progress (giving up on NATS here would lose the held call).
    const refreshAfter = recordRefreshAfterMs(ctx.config);
    const keepRecord = async () => {
      current = await ctx.store.refresh(current, refreshAfter, joinRideOutMs(ctx));
    };
    const posted = deps.client.post(session, toolCallMessage(ids, rec.callId, request, { traceparent }), { signal: watch.signal });
    const res = await awaitWithTicks(posted, refreshAfter, keepRecord);
    reached = 'maybe';
    rejoined(deps, rec.callId, 'hold', rec.server);
    // Ridden out like progress: giving up on NATS here would lose the held call (the status has a dedupe id).
    const running = () => ctx.events.status(rec.callId, 'running', { mode: 'hold', attempt, traceparent: rec.traceparent });
    await whileNatsFails(running, joinRideOutMs(ctx));
    const type = headerOf(res, 'content-type') ?? '';
    if (!type.includes('text/event-stream')) {
      const m = await readResponse(res, ids.requestId, deps.client.maxResponseBytes);
      if (m.kind === 'result' || m.kind === 'error') return { kind: 'outcome', record: current, outcome: outcomeOfResponse(m.message) };
    } else {
      let body: SseBody | undefined = res;
      let lastEventId: string | undefined;
      let retryMs: number | undefined;
      for (let resumes = 0; body; resumes++) {
        const events = readSse(body, { onRetry: (ms) => (retryMs = ms), maxEventChars: deps.client.maxResponseBytes, idsResume: true });
        for await (const event of withTicks(events, refreshAfter)) {
          if (event === TICK) {
            await keepRecord();
            continue;
          }
          if (event.id) lastEventId = event.id;
          const e = callStreamEvent(event.data, ids.requestId, ids.progressToken);
          if (e.kind === 'response') return { kind: 'outcome', record: current, outcome: outcomeOfResponse(e.message) };
          if (e.kind === 'progress') current = await publishProgress(ctx, current, e.update, (seq) => `h${attempt}.${seq}`);
          else if (e.kind === 'request') void answerServerRequest(deps.client, session, e.message);
        }
        // The server closed the stream before the answer: resumable only when its events had ids.
        if (lastEventId === undefined || resumes >= ctx.config.joiner.maxRejoinFailures) break;
        const waitMs = capDelay(retryMs ?? ctx.config.joiner.parkDelayMs, {
          maxMs: ctx.config.limits.maxRetryAfterMs,
          deadline: rec.deadline,
        });
        await sleep(waitMs, watch.signal);
        watch.signal.throwIfAborted();
        body = await awaitWithTicks(deps.client.resume(session, lastEventId, { signal: watch.signal }), refreshAfter, keepRecord);
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

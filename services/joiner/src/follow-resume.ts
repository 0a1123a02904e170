/**
 * Resume mode: GET the call's stream with Last-Event-ID and follow it. Only
 * the response whose id is the call's JSON-RPC id ends the call, and only
 * progress with the call's own token is published; a resumed stream may
 * carry other requests' events. Every event advances the token in KV with
 * compare-and-set; losing that race means another joiner took over.
 */
import {
  ErrorCode,
  isMcpqError,
  outcomeOfResponse,
  parseEventData,
  readSse,
  sameId,
  toMcpqError,
  type CallRecord,
  type JsonRpcRequest,
  type McpHttpClient,
  type ServiceContext,
  type Versioned,
} from '@mcpq/shared';
import type { Disposition } from './disposition.js';
import type { CallWatch } from './stop-reasons.js';

export interface FollowDeps {
  ctx: ServiceContext;
  client: McpHttpClient;
  watch: CallWatch;
}

export async function followResume(deps: FollowDeps, start: Versioned<CallRecord>): Promise<Disposition> {
  const { ctx, client, watch } = deps;
  let current = start;
  const rec = start.value;
  const session = { sessionId: rec.sessionId, protocolVersion: rec.protocolVersion ?? '2025-11-25' };
  if (!rec.lastEventId || rec.requestId === undefined) {
    return {
      kind: 'outcome',
      record: current,
      outcome: { status: 'failed', error: { code: ErrorCode.internal, message: 'resume-mode call has no resume token in its record' } },
    };
  }
  let retryHint: number | undefined;
  try {
    const res = await client.resume(session, rec.lastEventId, { signal: watch.signal });
    if (!res.body) throw new Error('resume answer has no body');
    for await (const event of readSse(res.body, { onRetry: (ms) => (retryHint = ms) })) {
      watch.touch();
      const m = parseEventData(event.data);
      const eventId = event.id ?? current.value.lastEventId;
      if (m && (m.kind === 'result' || m.kind === 'error') && sameId(m.message.id, rec.requestId)) {
        return { kind: 'outcome', outcome: outcomeOfResponse(m.message), record: current };
      }
      if (m?.kind === 'notification' && m.message.method === 'notifications/progress') {
        const p = m.message.params ?? {};
        if (p.progressToken === rec.progressToken && typeof p.progress === 'number') {
          const seq = current.value.progressSeq + 1;
          await ctx.events.progress(
            {
              callId: rec.callId,
              seq,
              progress: p.progress,
              ...(typeof p.total === 'number' ? { total: p.total } : {}),
              ...(typeof p.message === 'string' ? { message: p.message } : {}),
              at: new Date().toISOString(),
            },
            event.id ?? `seq${seq}`,
            rec.traceparent,
          );
          current = await advance(ctx, current, { progressSeq: seq, lastEventId: eventId });
          continue;
        }
      }
      if (m?.kind === 'request') void answerServerRequest(client, session, m.message);
      if (event.id && event.id !== current.value.lastEventId) current = await advance(ctx, current, { lastEventId: event.id });
    }
    return { kind: 'park', delayMs: retryHint ?? ctx.config.joiner.parkDelayMs, why: 'the server ended the stream' };
  } catch (err) {
    const reason = watch.reason;
    if (reason) return { kind: 'stopped', reason, record: current };
    if (isMcpqError(err, ErrorCode.record_conflict)) return { kind: 'lost' };
    const error = toMcpqError(err, ErrorCode.server_unreachable);
    if (error.retryable) return { kind: 'retry', error };
    return { kind: 'outcome', record: current, outcome: { status: 'failed', error: error.toWire() } };
  }
}

function advance(ctx: ServiceContext, current: Versioned<CallRecord>, patch: { lastEventId?: string | undefined; progressSeq?: number }) {
  return ctx.store.update(current, patch);
}

/** A server request on the call's stream: answer ping, refuse what mcpq cannot do (it declares no client capabilities). */
async function answerServerRequest(client: McpHttpClient, session: { sessionId?: string | undefined; protocolVersion: string }, req: JsonRpcRequest): Promise<void> {
  try {
    if (req.method === 'ping') await client.respond(session, req.id, {});
    else await client.respond(session, req.id, { error: { code: -32601, message: `mcpq cannot answer ${req.method} for a queued call` } });
  } catch {
    // Best effort: the server times its own request out.
  }
}

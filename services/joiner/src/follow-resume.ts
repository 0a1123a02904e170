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
  isNatsError,
  MCP_PROTOCOL_VERSION,
  McpqError,
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
import { progressFor, publishProgress } from './progress.js';
import type { CallWatch } from './stop-reasons.js';

export interface FollowDeps {
  ctx: ServiceContext;
  client: McpHttpClient;
  watch: CallWatch;
  /** When this delivery started (for the rejoin latency). */
  startedAt: number;
}

/** Reports that the call is being followed again (stream open, poll answered). */
export function rejoined(deps: FollowDeps, callId: string, mode: 'resume' | 'task' | 'hold'): void {
  deps.ctx.telemetry.emit('call:rejoined', { callId, mode, latencyMs: Date.now() - deps.startedAt });
}

export async function followResume(deps: FollowDeps, start: Versioned<CallRecord>): Promise<Disposition> {
  const { ctx, client, watch } = deps;
  let current = start;
  const rec = start.value;
  const session = { sessionId: rec.sessionId, protocolVersion: rec.protocolVersion ?? MCP_PROTOCOL_VERSION };
  if (!rec.lastEventId || rec.requestId === undefined) {
    return {
      kind: 'outcome',
      record: current,
      outcome: { status: 'failed', error: { code: ErrorCode.internal, message: 'resume-mode call has no resume token in its record' } },
    };
  }
  let retryHint: number | undefined;
  try {
    const res = await client.resume(session, rec.lastEventId, { signal: watch.signal }).catch((err: unknown) => {
      throw sessionRefused(err, rec.sessionId);
    });
    if (!res.body) throw new Error('resume answer has no body');
    rejoined(deps, rec.callId, 'resume');
    current = await clearFailures(ctx, current);
    for await (const event of readSse(res.body, { onRetry: (ms) => (retryHint = ms) })) {
      watch.touch();
      const m = parseEventData(event.data);
      const eventId = event.id ?? current.value.lastEventId;
      if (m && (m.kind === 'result' || m.kind === 'error') && sameId(m.message.id, rec.requestId)) {
        return { kind: 'outcome', outcome: outcomeOfResponse(m.message), record: current };
      }
      const progress =
        m?.kind === 'notification' && m.message.method === 'notifications/progress'
          ? progressFor(m.message.params, rec.progressToken)
          : undefined;
      if (progress) {
        current = await publishProgress(ctx, current, progress, (seq) => event.id ?? `r${rec.attempts}.${seq}`, { lastEventId: eventId });
        continue;
      }
      if (m?.kind === 'request') void answerServerRequest(client, session, m.message);
      if (event.id && event.id !== current.value.lastEventId) current = await ctx.store.update(current, { lastEventId: event.id });
    }
    return { kind: 'park', delayMs: retryHint ?? ctx.config.joiner.parkDelayMs, why: 'the server ended the stream' };
  } catch (err) {
    const reason = watch.reason;
    if (reason) return { kind: 'stopped', reason, record: current };
    if (isMcpqError(err, ErrorCode.record_conflict)) return { kind: 'lost' };
    if (isNatsError(err)) throw err; // mcpq's own infrastructure, not the MCP server: retried by the work loop
    const error = toMcpqError(err, ErrorCode.server_unreachable);
    if (error.retryable) return { kind: 'retry', error, record: current };
    return { kind: 'outcome', record: current, outcome: { status: 'failed', error: error.toWire() } };
  }
}

/**
 * A resume GET refused with 400 means the server does not know the session
 * or the event id any more (servers differ between 404 and 400 here): the
 * call cannot be rejoined.
 */
function sessionRefused(err: unknown, sessionId: string | undefined): unknown {
  const e = toMcpqError(err);
  const status = (e.data as { httpStatus?: number } | undefined)?.httpStatus;
  if (status !== 400) return err;
  return new McpqError(ErrorCode.session_lost, `the MCP server refused to resume session ${sessionId ?? '(none)'}: ${e.message}`, {
    data: e.data,
  });
}

/** A rejoin worked: forget the failures counted so far. */
export async function clearFailures(ctx: ServiceContext, current: Versioned<CallRecord>): Promise<Versioned<CallRecord>> {
  return current.value.rejoinFailures ? ctx.store.update(current, { rejoinFailures: 0, lastError: undefined }) : current;
}

/** A server request on the call's stream: answer ping, refuse what mcpq cannot do (it declares no client capabilities). */
export async function answerServerRequest(
  client: McpHttpClient,
  session: { sessionId?: string | undefined; protocolVersion: string },
  req: JsonRpcRequest,
): Promise<void> {
  try {
    if (req.method === 'ping') await client.respond(session, req.id, {});
    else await client.respond(session, req.id, { error: { code: -32601, message: `mcpq cannot answer ${req.method} for a queued call` } });
  } catch {
    // Best effort: the server times its own request out.
  }
}

/**
 * Resume mode: GET the call's stream with Last-Event-ID and follow it. Only
 * the response whose id is the call's JSON-RPC id ends the call, and only
 * progress with the call's own token is published; a resumed stream may
 * carry other requests' events. Every event advances the token in KV with
 * compare-and-set; losing that race means another joiner took over.
 */
import {
  ErrorCode,
  MCP_PROTOCOL_VERSION,
  McpqError,
  outcomeOfResponse,
  readSse,
  toMcpqError,
  type CallRecord,
  type JsonRpcRequest,
  type McpHttpClient,
  type ServiceContext,
  type Versioned,
} from '@mcpq/shared';
import { interrupted, type Disposition } from './disposition.js';
import { callStreamEvent, publishProgress } from './progress.js';
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
      const e = callStreamEvent(event.data, rec.requestId, rec.progressToken);
      if (e.kind === 'response') return { kind: 'outcome', outcome: outcomeOfResponse(e.message), record: current };
      if (e.kind === 'progress') {
        const lastEventId = event.id ?? current.value.lastEventId;
        current = await publishProgress(ctx, current, e.update, (seq) => event.id ?? `r${rec.attempts}.${seq}`, { lastEventId });
        continue;
      }
      if (e.kind === 'request') void answerServerRequest(client, session, e.message);
      if (event.id && event.id !== current.value.lastEventId) current = await ctx.store.update(current, { lastEventId: event.id });
    }
    return { kind: 'park', delayMs: retryHint ?? ctx.config.joiner.parkDelayMs, why: 'the server ended the stream' };
  } catch (err) {
    const interruption = interrupted(err, watch, current);
    if (interruption) return interruption;
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

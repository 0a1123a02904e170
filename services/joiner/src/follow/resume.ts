/**
 * Resume mode: GET the call's stream with Last-Event-ID and follow it. Only
 * the response whose id is the call's JSON-RPC id ends the call, and only
 * progress with the call's own token is published; a resumed stream may
 * carry other requests' events. Every event advances the token in KV with
 * compare-and-set; losing that race means another joiner took over.
 */
import {
  capDelay,
  ErrorCode,
  MCP_PROTOCOL_VERSION,
  McpqError,
  outcomeOfResponse,
  readSse,
  toMcpqError,
  backoffDelay,
  type CallRecord,
  type Versioned,
} from '@mcpq/shared';
import {
  answerServerRequest,
  callStreamEvent,
  clearFailures,
  failed,
  interrupted,
  rejoined,
  retryOrFail,
  unlessLost,
  type Disposition,
  type FollowDeps,
} from './common.js';
import { publishProgress } from '@mcpq/shared';

export async function followResume(deps: FollowDeps, start: Versioned<CallRecord>): Promise<Disposition> {
  const { ctx, client, watch } = deps;
  let current = start;
  const rec = start.value;
  const session = { sessionId: rec.sessionId, protocolVersion: rec.protocolVersion ?? MCP_PROTOCOL_VERSION };
  if (!rec.lastEventId || rec.requestId === undefined) {
    return failed(current, { code: ErrorCode.internal, message: 'resume-mode call has no resume token in its record' });
  }
  const serverWait = (ms: number) => capDelay(ms, { maxMs: ctx.config.limits.maxRetryAfterMs, deadline: rec.deadline });
  // The server asked (SSE retry on the stream the submitter left) to be resumed no sooner than this.
  if (rec.retryMs !== undefined && rec.dispatchedAt !== undefined) {
    const early = Date.parse(rec.dispatchedAt) + serverWait(rec.retryMs) - Date.now();
    if (early > 0) return { kind: 'park', delayMs: early, why: "waiting for the server's SSE retry" };
  }
  let retryHint: number | undefined;
  try {
    const body = await client.resume(session, rec.lastEventId, { signal: watch.signal }).catch((err: unknown) => {
      throw sessionRefused(err, rec.sessionId);
    });
    rejoined(deps, rec.callId, 'resume', rec.server);
    current = await clearFailures(ctx, current);
    for await (const event of readSse(body, {
      onRetry: (ms) => (retryHint = ms),
      maxEventChars: client.maxResponseBytes,
      idsResume: true,
    })) {
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
    return {
      kind: 'park',
      delayMs: retryHint !== undefined ? serverWait(retryHint) : ctx.config.joiner.parkDelayMs,
      why: 'the server ended the stream',
    };
  } catch (err) {
    const interruption = interrupted(err, watch, current);
    if (interruption) return interruption;
    const error = toMcpqError(err, ErrorCode.server_unreachable);
    if (httpStatusOf(error) === 409) return streamConflict(deps, current, error);
    return retryOrFail(current, error);
  }
}

/** HTTP 409s in a row on the resume GET that wait without counting as the server failing. */
const FREE_CONFLICTS = 4;

/**
 * HTTP 409 on the resume GET: the server still holds the stream for another
 * connection (a previous holder's, not yet noticed gone). Not the server
 * failing: wait and ask again. Past FREE_CONFLICTS in a row each one counts
 * toward joiner.maxRejoinFailures, so that it stays bounded.
 */
async function streamConflict(deps: FollowDeps, current: Versioned<CallRecord>, error: McpqError): Promise<Disposition> {
  const conflicts = (current.value.streamConflicts ?? 0) + 1;
  if (conflicts > FREE_CONFLICTS) return { kind: 'retry', error, record: current };
  return unlessLost(() => deps.ctx.store.update(current, { streamConflicts: conflicts }), {
    kind: 'park',
    delayMs: backoffDelay(conflicts, deps.ctx.config.joiner.retryBaseMs, deps.ctx.config.joiner.retryMaxMs),
    why: 'the server still holds the stream for another connection (HTTP 409)',
  });
}

function httpStatusOf(error: McpqError): number | undefined {
  return (error.data as { httpStatus?: number } | undefined)?.httpStatus;
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

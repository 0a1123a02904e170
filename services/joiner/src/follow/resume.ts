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
    return retryOrFail(current, toMcpqError(err, ErrorCode.server_unreachable));
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

/**
 * Publishes one progress event of a call and advances the record with
 * compare-and-set, in that order: if the process dies in between, the next
 * follower reads the old record, reaches the same event again and publishes
 * it with the same sequence number and dedupe key, which JetStream drops.
 * Progress that does not move forward is not published.
 */
import {
  parseEventData,
  sameId,
  whileNatsFails,
  type CallRecord,
  type JsonRpcError,
  type JsonRpcRequest,
  type JsonRpcResult,
  type RecordPatch,
  type ServiceContext,
  type Versioned,
} from '@mcpq/shared';

export interface ProgressUpdate {
  progress: number;
  total?: number | undefined;
  message?: string | undefined;
}

/** What one SSE event on a followed call's stream is, for that call. */
export type CallStreamEvent =
  | { kind: 'response'; message: JsonRpcResult | JsonRpcError }
  | { kind: 'progress'; update: ProgressUpdate }
  | { kind: 'request'; message: JsonRpcRequest }
  | { kind: 'other' };

/**
 * Classifies an event of the call with JSON-RPC id `requestId` and progress
 * token `token`: a stream may carry other requests' responses and progress,
 * which are `other`.
 */
export function callStreamEvent(data: string, requestId: string | number | undefined, token: string | number | undefined): CallStreamEvent {
  const m = parseEventData(data);
  if (!m) return { kind: 'other' };
  if ((m.kind === 'result' || m.kind === 'error') && sameId(m.message.id, requestId)) return { kind: 'response', message: m.message };
  if (m.kind === 'notification' && m.message.method === 'notifications/progress') {
    const update = progressFor(m.message.params, token);
    return update ? { kind: 'progress', update } : { kind: 'other' };
  }
  return m.kind === 'request' ? { kind: 'request', message: m.message } : { kind: 'other' };
}

/** Reads `notifications/progress` params; undefined when they are not for `token` or not valid. */
function progressFor(params: Record<string, unknown> | undefined, token: string | number | undefined): ProgressUpdate | undefined {
  if (!params || token === undefined || params.progressToken !== token || typeof params.progress !== 'number') return undefined;
  return {
    progress: params.progress,
    total: typeof params.total === 'number' ? params.total : undefined,
    message: typeof params.message === 'string' ? params.message : undefined,
  };
}

export async function publishProgress(
  ctx: ServiceContext,
  current: Versioned<CallRecord>,
  update: ProgressUpdate,
  /** Deterministic per event (SSE event id, or attempt + sequence). */
  key: (seq: number) => string,
  patch: RecordPatch = {},
): Promise<Versioned<CallRecord>> {
  const rec = current.value;
  // Progress only moves forward (MCP requires it); a replay out of order must not move it back.
  if (rec.lastProgress !== undefined && update.progress <= rec.lastProgress) {
    return Object.keys(patch).length > 0 ? ctx.store.update(current, patch) : current;
  }
  const seq = rec.progressSeq + 1;
  const bound = ctx.config.joiner.ackWaitMs;
  await whileNatsFails(
    () =>
      ctx.events.progress(
        {
          callId: rec.callId,
          seq,
          progress: update.progress,
          ...(update.total !== undefined ? { total: update.total } : {}),
          ...(update.message !== undefined ? { message: update.message } : {}),
          at: new Date().toISOString(),
        },
        key(seq),
        rec.traceparent,
      ),
    bound,
  );
  return ctx.store.updateThroughOutage(current, { ...patch, progressSeq: seq, lastProgress: update.progress }, bound);
}

/**
 * Publishes one progress event of a call and advances the record with
 * compare-and-set, in that order: if the process dies in between, the next
 * follower reads the old record, reaches the same event again and publishes
 * it with the same sequence number and dedupe key, which JetStream drops.
 * Progress that does not move forward is not published. Used by the
 * joiner's followers and the submitter's fast path alike (same keys, same
 * bound: joinRideOutMs), so a call handed off mid-way never publishes an
 * event twice.
 */
import type { ProgressUpdate } from '../mcp/call-stream.js';
import { type CallRecord, type Versioned, whileNatsFails } from '@mcpq/contract';
import { joinRideOutMs } from '../runtime/keep-alive.js';
import type { ServiceContext } from '../runtime/service.js';
import type { RecordPatch } from './store.js';

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
  const bound = joinRideOutMs(ctx);
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

/**
 * What the console shows of a call: the record's public part plus the
 * progress totals seen on progress events. Session ids, resume tokens and
 * task ids stay out: they are capabilities on the MCP server.
 */
import { toCallInfo, type CallInfo } from '@mcpq/client';
import type { CallRecord, ProgressEvent } from '@mcpq/shared';

export interface ProgressView {
  seq: number;
  progress?: number | undefined;
  total?: number | undefined;
  message?: string | undefined;
}

/** A call as the client reports it (`toCallInfo`), with what the console adds: progress totals, idempotence, the cancel. */
export interface CallView extends Omit<CallInfo, 'progressSeq'> {
  idempotent: boolean;
  progress: ProgressView;
  cancel?: { at: string; reason?: string | undefined } | undefined;
}

export function toCallView(rec: CallRecord, seen?: ProgressView): CallView {
  const progress: ProgressView = { seq: rec.progressSeq, progress: rec.lastProgress };
  // The record has no total: take it (and the message) from the latest progress event seen, if it is not older.
  if (seen && seen.seq >= rec.progressSeq) Object.assign(progress, seen);
  const { progressSeq: _seq, ...info } = toCallInfo(rec);
  return { ...info, idempotent: rec.idempotent, progress, cancel: rec.cancel };
}

export function progressOf(event: ProgressEvent): ProgressView {
  return { seq: event.seq, progress: event.progress, total: event.total, message: event.message };
}

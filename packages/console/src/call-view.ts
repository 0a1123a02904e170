/**
 * What the console shows of a call: the record's public part plus the
 * progress totals seen on progress events. Session ids, resume tokens and
 * task ids stay out: they are capabilities on the MCP server.
 */
import { publicStatus, type CallRecord, type CallStatus, type Mode, type ProgressEvent } from '@mcpq/shared';

export interface ProgressView {
  seq: number;
  progress?: number | undefined;
  total?: number | undefined;
  message?: string | undefined;
}

export interface CallView {
  callId: string;
  status: CallStatus;
  server: string;
  tool: string;
  mode?: Mode | undefined;
  /** MCP protocol revision of the call's session. */
  protocol?: string | undefined;
  attempts: number;
  idempotent: boolean;
  owner?: string | undefined;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string | undefined;
  deadline?: string | undefined;
  progress: ProgressView;
  error?: { code: string; message: string } | undefined;
  cancel?: { at: string; reason?: string | undefined } | undefined;
}

export function toCallView(rec: CallRecord, seen?: ProgressView): CallView {
  const progress: ProgressView = { seq: rec.progressSeq, progress: rec.lastProgress };
  // The record has no total: take it (and the message) from the latest progress event seen, if it is not older.
  if (seen && seen.seq >= rec.progressSeq) Object.assign(progress, seen);
  return {
    callId: rec.callId,
    status: publicStatus(rec),
    server: rec.server,
    tool: rec.tool,
    mode: rec.mode,
    protocol: rec.protocolVersion,
    attempts: rec.attempts,
    idempotent: rec.idempotent,
    owner: rec.owner,
    createdAt: rec.createdAt,
    updatedAt: rec.updatedAt,
    finishedAt: rec.finishedAt,
    deadline: rec.deadline !== undefined ? new Date(rec.deadline).toISOString() : undefined,
    progress,
    error: rec.result?.error ? { code: rec.result.error.code, message: rec.result.error.message } : undefined,
    cancel: rec.cancel,
  };
}

export function progressOf(event: ProgressEvent): ProgressView {
  return { seq: event.seq, progress: event.progress, total: event.total, message: event.message };
}

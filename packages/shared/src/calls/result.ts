/**
 * Ending a call: the one path by which a result is published. The writer
 * first moves the record to a terminal state with compare-and-set (so only
 * one process can win), keeps the result in the record, then publishes it
 * with the dedupe id `<callId>.result`. A crash between the two steps is
 * repaired by `republishResult` when the message is redelivered.
 */
import { measureJson } from '../bounds/json.js';
import {
  type CallRecord,
  ErrorCode,
  isMcpqError,
  retryWhileNatsFails,
  type ResultEvent,
  type TerminalStatus,
  type Versioned,
  type WireError,
} from '@mcpq/contract';
import { recordFailure, recordOutcome, SpanAttr, startCallSpan } from '../runtime/tracing.js';
import type { CallEvents } from './events.js';
import type { CallStore, RecordPatch } from './store.js';

export interface Outcome {
  status: TerminalStatus;
  /** The MCP CallToolResult (status completed). */
  result?: Record<string, unknown>;
  error?: WireError;
}

export interface FinishOptions {
  /** Record fields written with the end (e.g. the cancel request). */
  extra?: RecordPatch;
  /**
   * Ride out a NATS failure for up to this long (for an end that must not be lost: the tool has
   * answered). The record write goes through `CallStore.updateThroughOutage`, so a write whose
   * acknowledgement was lost is recognised as this one's, not taken for someone else's ending
   * (record_conflict); the publish is retried within the same bound. Without it, one try each.
   */
  throughOutageMs?: number;
}

export async function finishCall(
  store: CallStore,
  events: CallEvents,
  current: Versioned<CallRecord>,
  outcome: Outcome,
  options: FinishOptions = {},
): Promise<Versioned<CallRecord>> {
  const { extra = {}, throughOutageMs } = options;
  const until = throughOutageMs === undefined ? undefined : Date.now() + throughOutageMs;
  const finishedAt = new Date().toISOString();
  const merged = { ...current.value, ...extra };
  const result: ResultEvent = {
    callId: merged.callId,
    status: outcome.status,
    attempts: merged.attempts,
    startedAt: merged.createdAt,
    finishedAt,
  };
  if (outcome.result !== undefined) result.result = outcome.result;
  if (outcome.error !== undefined) result.error = outcome.error;
  if (merged.mode !== undefined) result.mode = merged.mode;
  const span = startCallSpan('mcpq result', merged.traceparent, {
    [SpanAttr.callId]: merged.callId,
    [SpanAttr.server]: merged.server,
    [SpanAttr.tool]: merged.tool,
    [SpanAttr.mode]: merged.mode,
    [SpanAttr.attempt]: merged.attempts,
  });
  recordOutcome(span, outcome);
  try {
    const patch: RecordPatch = { ...extra, status: outcome.status, finishedAt, result };
    const stored =
      until === undefined ? await store.update(current, patch) : await store.updateThroughOutage(current, patch, until - Date.now());
    const publish = () => republishResult(events, stored.value);
    // Publishing again is harmless: the dedupe id, and a result is stored only on an empty subject.
    await (until === undefined ? publish() : retryWhileNatsFails(publish, { until }));
    span.setAttribute(SpanAttr.outcome, 'published');
    return stored;
  } catch (err) {
    // Most often another process ended the call first (record_conflict): its result stands, this one was not published.
    span.setAttribute(SpanAttr.outcome, isMcpqError(err, ErrorCode.record_conflict) ? 'conflict' : 'failed');
    recordFailure(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** Deepest result kept: deeper ones are refused before anything serializes them (which would overflow the stack). */
export const MAX_RESULT_DEPTH = 512;

/**
 * A result larger than `maxBytes` (JSON) is not kept: the call fails with
 * `result_too_large`, saying how large it was; likewise a result nested
 * deeper than MAX_RESULT_DEPTH. Outcomes without a result pass.
 */
export function limitResult(outcome: Outcome, maxBytes: number): Outcome {
  if (outcome.result === undefined) return outcome;
  const measured = measureJson(outcome.result, MAX_RESULT_DEPTH);
  if (!measured.ok) {
    return {
      status: 'failed',
      error: {
        code: ErrorCode.result_too_large,
        message:
          measured.reason === 'too_deep'
            ? `the tool's result is nested deeper than ${MAX_RESULT_DEPTH} levels; it was not kept`
            : `the tool's result cannot be serialized: ${measured.message}`,
        data: { limit: maxBytes, isError: outcome.result.isError === true },
      },
    };
  }
  const bytes = measured.bytes;
  if (bytes <= maxBytes) return outcome;
  return {
    status: 'failed',
    error: {
      code: ErrorCode.result_too_large,
      message: `the tool's result is ${bytes} bytes; the limit is ${maxBytes} (limits.maxResultBytes)`,
      data: { bytes, limit: maxBytes, isError: outcome.result.isError === true },
    },
  };
}

/**
 * Publishes the terminal status, then the result, kept in a terminal record
 * (idempotent: both carry dedupe ids). The result goes last so that it is
 * the last event of the call in the stream: a watcher stops there. The two
 * are pipelined, not awaited one by one: both are written to the one NATS
 * connection in this order before either acknowledgement is awaited, and
 * JetStream stores them in the order they arrive.
 */
export async function republishResult(events: CallEvents, record: CallRecord): Promise<void> {
  if (!record.result) return;
  const status = events.status(record.callId, record.result.status, {
    mode: record.mode,
    attempt: record.attempts,
    detail: record.result.error?.message,
    traceparent: record.traceparent,
    protocol: record.protocol,
  });
  const result = events.result(record.result, record.traceparent, { server: record.server, tool: record.tool });
  await Promise.all([status, result]);
}

/**
 * The call record kept in the KV bucket (`<prefix>_calls`, key = callId) and
 * the state machine over its `status`. Only CallStore writes records, and only
 * through `transition` checks here, always with compare-and-set.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { z } from 'zod';
import { ErrorCode, McpqError } from './errors.js';
import { CallIdSchema, ModeSchema, ProtocolEraSchema, ResultEventSchema, WireErrorSchema, type CallStatus } from './wire/schemas.js';

export const RecordStatusSchema = z.enum([
  /** The submitter claimed the callId; nothing was sent upstream yet. */
  'accepted',
  /** tools/call is being sent (by the submitter; in hold mode by a joiner, which holds it to the end); a crash now leaves the outcome unknown. */
  'dispatching',
  /** The call runs upstream and the join was handed to the joiners. */
  'dispatched',
  /** A joiner owns the call and is following it. */
  'running',
  'completed',
  'failed',
  'cancelled',
  'timeout',
]);
export type RecordStatus = z.infer<typeof RecordStatusSchema>;

const JsonRpcIdSchema = z.union([z.string(), z.number()]);

const callRecordObject = z.object({
  v: z.literal(1),
  callId: CallIdSchema,
  /** The server alias from the submit subject (may be an unknown alias on a rejected call). */
  server: z.string(),
  tool: z.string(),
  status: RecordStatusSchema,
  mode: ModeSchema.optional(),
  /** The MCP protocol revision the call is made in (set at dispatch); absent on records older than it: 2025-11-25. */
  protocol: ProtocolEraSchema.optional(),
  idempotent: z.boolean(),
  /** Stream sequence of the submit message that created the record (tells a redelivery from a duplicate). */
  submitSeq: z.number().int().nonnegative().optional(),
  sessionId: z.string().optional(),
  protocolVersion: z.string().optional(),
  requestId: JsonRpcIdSchema.optional(),
  progressToken: JsonRpcIdSchema.optional(),
  /** Resume token: the last SSE event id seen on the call's stream. */
  lastEventId: z.string().optional(),
  /** The server's SSE `retry:` (ms) when it sent one: how long to wait before resuming its stream (capped by limits.maxRetryAfterMs when used). */
  retryMs: z.number().int().nonnegative().optional(),
  /** HTTP 409s in a row on the resume GET (the stream held by another connection): counted apart from rejoinFailures. */
  streamConflicts: z.number().int().nonnegative().optional(),
  taskId: z.string().optional(),
  /** Task mode: the task status and statusMessage last seen, and the server's suggested poll interval. */
  taskStatus: z.string().optional(),
  taskStatusMessage: z.string().optional(),
  pollIntervalMs: z.number().int().nonnegative().optional(),
  /** Task mode on MCP 2026-07-28: how long the server keeps the task (`ttlMs`; absent: no limit or not said). */
  taskTtlMs: z.number().int().nonnegative().optional(),
  /** Sequence number of the last published progress event. */
  progressSeq: z.number().int().nonnegative(),
  /** `progress` value of the last published progress event (progress only moves forward). */
  lastProgress: z.number().optional(),
  /** How many times mcpq tried to start the call upstream (sent tools/call, or tried to reach the server for it). */
  attempts: z.number().int().nonnegative(),
  /** The last transient failure, kept across deliveries for the final error. */
  lastError: WireErrorSchema.optional(),
  /** Rejoin attempts that failed in a row (reset when a rejoin works). */
  rejoinFailures: z.number().int().nonnegative().optional(),
  /** Id of the joiner that follows the call now. */
  owner: z.string().optional(),
  /** Epoch milliseconds after which the call ends `timeout`. */
  deadline: z.number().int().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  dispatchedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  /** The published result, kept so a redelivered join can republish it after a crash. */
  result: ResultEventSchema.optional(),
  cancel: z.object({ at: z.string(), reason: z.string().optional() }).optional(),
  traceparent: z.string().optional(),
});
/** Parsing keeps fields a newer process wrote, so they survive a compare-and-set rewrite by an older one (rolling upgrades). */
export const CallRecordSchema = callRecordObject.loose();
export type CallRecord = z.infer<typeof callRecordObject>;

const TERMINAL = ['completed', 'failed', 'cancelled', 'timeout'] as const;

/** Where each status may go next. Terminal states go nowhere. */
const NEXT: Record<RecordStatus, readonly RecordStatus[]> = {
  // straight to dispatched: hold mode, where the submitter sends nothing and a joiner makes the call
  accepted: ['accepted', 'dispatching', 'dispatched', ...TERMINAL],
  // back to accepted: an idempotent call is dispatched again after a lost dispatch;
  // back to dispatched: a hold-mode joiner failed before its request reached the server
  dispatching: ['dispatching', 'dispatched', 'accepted', ...TERMINAL],
  // to dispatching: a hold-mode joiner is about to send the call itself
  dispatched: ['dispatched', 'dispatching', 'running', ...TERMINAL],
  // back to dispatched: a joiner handed the call back (shutdown, parking);
  // to dispatching: the server lost the session of an idempotent call, which is dispatched again
  running: ['running', 'dispatched', 'dispatching', ...TERMINAL],
  completed: [],
  failed: [],
  cancelled: [],
  timeout: [],
};

export function isTerminalRecord(record: Pick<CallRecord, 'status'>): boolean {
  return NEXT[record.status].length === 0;
}

/**
 * Whether tools/call may have been sent for this record, so that stopping the
 * call (cancel, deadline) must tell the MCP server. Not yet for a call only
 * accepted, nor for a hold-mode call no joiner has made yet.
 */
export function mayRunUpstream(record: Pick<CallRecord, 'status' | 'mode'>): boolean {
  return record.status !== 'accepted' && !(record.mode === 'hold' && record.status === 'dispatched');
}

export function canTransition(from: RecordStatus, to: RecordStatus): boolean {
  return NEXT[from].includes(to);
}

/** The status a caller sees for a record (the wire has no accepted/dispatching). */
export function publicStatus(record: Pick<CallRecord, 'status' | 'mode'>): CallStatus {
  switch (record.status) {
    case 'accepted':
      return 'queued';
    case 'dispatching':
      // In hold mode, dispatching means a joiner is making (and holding) the call.
      return record.mode === 'hold' ? 'running' : 'queued';
    default:
      return record.status;
  }
}

/** A value read from KV with the revision a compare-and-set must name. */
export interface Versioned<T> {
  readonly value: T;
  readonly revision: number;
}

/** The call record of `callId`, or null when there is none (never created, deleted or expired). */
export async function readRecord(kv: KV, callId: string): Promise<Versioned<CallRecord> | null> {
  const entry = await kv.get(callId);
  if (!entry || entry.operation !== 'PUT' || entry.length === 0) return null;
  return { value: parseRecord(callId, entry.string()), revision: entry.revision };
}

/**
 * The bucket read through its stream's leader (`$JS.API.STREAM.MSG.GET`),
 * never a direct get. Direct gets (what mcpq's buckets allow, for their
 * cost) are answered by any replica, and a replica may not have applied the
 * latest acknowledged write yet: in a 3-node cluster 90 of 2,000 reads made
 * right after a write's acknowledgement missed it (nats-server 2.9.10). The
 * leader answers with every acknowledged write. Opening makes no request.
 */
export function leaderView(js: JetStreamClient, bucket: string): Promise<KV> {
  return new Kvm(js).open(bucket, { allow_direct: false });
}

/**
 * readRecord, asked again of the leader (`leader`, see leaderView) when
 * `doubt` says what was read may be a lagging replica's: a record missing
 * although a join names it, or not ended although its result was
 * published. Only the doubtful reads pay the second request. Without a
 * leader view, the first answer stands.
 */
export async function readRecordSure(
  kv: KV,
  leader: KV | undefined,
  callId: string,
  doubt: (read: Versioned<CallRecord> | null) => boolean,
): Promise<Versioned<CallRecord> | null> {
  const read = await readRecord(kv, callId);
  return leader && doubt(read) ? readRecord(leader, callId) : read;
}

export function parseRecord(callId: string, text: string): CallRecord {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new McpqError(ErrorCode.internal, `call ${callId}: KV record is not JSON`);
  }
  const parsed = CallRecordSchema.safeParse(json);
  if (!parsed.success) {
    throw new McpqError(ErrorCode.internal, `call ${callId}: KV record does not match the schema`, {
      data: parsed.error.issues,
    });
  }
  return parsed.data;
}

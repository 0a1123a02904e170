/**
 * CallStore: the only code that writes call records. Creation is `kv.create`
 * (a callId can be claimed once); every change is `kv.update` with the
 * revision the writer last read (compare-and-set), checked against the state
 * machine in record.ts. A writer that loses a race gets `record_conflict`
 * and must re-read before doing anything else.
 */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { boundWireError, DEFAULT_MAX_ERROR_BYTES } from '../bounds/wire-error.js';
import { clipEventText } from './events.js';
import {
  type CallRecord,
  canTransition,
  ErrorCode,
  isTerminalRecord,
  McpqError,
  readRecord,
  readRecordSure,
  retryWhileNatsFails,
  type Versioned,
} from '@mcpq/contract';

export type RecordPatch = Partial<Omit<CallRecord, 'v' | 'callId' | 'createdAt' | 'updatedAt'>>;

export type NewRecord = Omit<CallRecord, 'v' | 'createdAt' | 'updatedAt' | 'progressSeq' | 'attempts'> &
  Partial<Pick<CallRecord, 'progressSeq' | 'attempts'>>;

export interface CallStoreOptions {
  /** `limits.maxErrorBytes`: every error a record keeps (`lastError`, `result.error`) is cut to this. */
  maxErrorBytes?: number;
  /** The bucket read through its stream's leader (leaderView), for getSure's second look. */
  leader?: KV | undefined;
}

export class CallStore {
  private readonly maxErrorBytes: number;

  private readonly leader: KV | undefined;

  constructor(
    private readonly kv: KV,
    options: CallStoreOptions = {},
  ) {
    this.maxErrorBytes = options.maxErrorBytes ?? DEFAULT_MAX_ERROR_BYTES;
    this.leader = options.leader;
  }

  /**
   * The record as a replica has it (a direct get: it may lag the latest
   * write by a moment). Fine before a compare-and-set, which fails on a
   * stale revision; see getSure for a read whose answer is acted on as it is.
   */
  async get(callId: string): Promise<Versioned<CallRecord> | null> {
    return readRecord(this.kv, callId);
  }

  /** get(), asked again of the stream's leader when `doubt` holds for the answer (readRecordSure). */
  async getSure(callId: string, doubt: (read: Versioned<CallRecord> | null) => boolean): Promise<Versioned<CallRecord> | null> {
    return readRecordSure(this.kv, this.leader, callId, doubt);
  }

  /** Claims `callId`. Returns null when a record already exists (the callId was used). */
  async create(init: NewRecord): Promise<Versioned<CallRecord> | null> {
    const now = new Date().toISOString();
    const value: CallRecord = {
      v: 1,
      progressSeq: 0,
      attempts: 0,
      ...init,
      createdAt: now,
      updatedAt: now,
    };
    try {
      const revision = await this.kv.create(init.callId, JSON.stringify(value));
      return { value, revision };
    } catch (err) {
      if (isWrongLastSequence(err)) return null;
      throw err;
    }
  }

  /**
   * Applies `patch` to the record read at `current.revision`. Throws
   * `record_conflict` when someone else wrote in between, and `internal`
   * for a transition the state machine forbids.
   */
  async update(current: Versioned<CallRecord>, patch: RecordPatch): Promise<Versioned<CallRecord>> {
    const from = current.value.status;
    const to = patch.status ?? from;
    if (!canTransition(from, to)) {
      throw new McpqError(ErrorCode.internal, `call ${current.value.callId}: no transition ${from} -> ${to}`);
    }
    const value: CallRecord = this.bounded({ ...current.value, ...patch, updatedAt: new Date().toISOString() });
    for (const key of Object.keys(patch) as Array<keyof RecordPatch>) {
      if (patch[key] === undefined) delete (value as Record<string, unknown>)[key];
    }
    try {
      const revision = await this.kv.update(value.callId, JSON.stringify(value), current.revision);
      return { value, revision };
    } catch (err) {
      if (isWrongLastSequence(err)) {
        throw new McpqError(ErrorCode.record_conflict, `call ${value.callId}: record changed since revision ${current.revision}`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  /**
   * `update`, retried while NATS fails (bounded by `boundMs`). A write whose
   * answer was lost may still have been applied: when a retry then finds the
   * record changed, and the stored record is exactly what this writer wrote
   * (timestamp aside), that write went through and is adopted instead of
   * being taken for someone else's.
   */
  async updateThroughOutage(current: Versioned<CallRecord>, patch: RecordPatch, boundMs: number): Promise<Versioned<CallRecord>> {
    return retryWhileNatsFails(
      async (attempt) => {
        try {
          return await this.update(current, patch);
        } catch (err) {
          // A conflict after a retry (only NATS errors are retried) may be this writer's own lost write.
          if (attempt > 1 && err instanceof McpqError && err.code === ErrorCode.record_conflict) {
            const stored = await this.get(current.value.callId);
            // Compared with what update() wrote: the record with its errors cut, as bounded() cuts them.
            if (stored && sameExceptTimestamp(stored.value, this.bounded({ ...current.value, ...patch }))) return stored;
          }
          throw err;
        }
      },
      { until: Date.now() + boundMs },
    );
  }

  /**
   * The record with its errors cut to `maxErrorBytes`, and a task's status and
   * statusMessage as events keep them (clipEventText): a server's text of
   * megabytes would make every write fail (a KV value must fit one NATS
   * message), and the call would never end, or end failed. The one place every write passes.
   */
  private bounded(value: CallRecord): CallRecord {
    const out = value;
    if (out.taskStatus !== undefined) out.taskStatus = clipEventText(out.taskStatus);
    if (out.taskStatusMessage !== undefined) out.taskStatusMessage = clipEventText(out.taskStatusMessage);
    if (out.lastError) out.lastError = boundWireError(out.lastError, this.maxErrorBytes);
    if (out.result?.error) out.result = { ...out.result, error: boundWireError(out.result.error, this.maxErrorBytes) };
    return out;
  }

  /**
   * Rewrites a live record unchanged once it is `olderThanMs` old, so that it
   * does not expire (records live streams.callsTtlMs after their last write)
   * while its call is quiet. Compare-and-set like every write; with
   * `throughOutageMs`, ridden out like `updateThroughOutage` (a held call
   * must not end on one NATS failure at its refresh).
   */
  async refresh(current: Versioned<CallRecord>, olderThanMs: number, throughOutageMs?: number): Promise<Versioned<CallRecord>> {
    if (isTerminalRecord(current.value) || Date.now() - Date.parse(current.value.updatedAt) < olderThanMs) return current;
    return throughOutageMs === undefined ? this.update(current, {}) : this.updateThroughOutage(current, {}, throughOutageMs);
  }

  isTerminal(record: Versioned<CallRecord>): boolean {
    return isTerminalRecord(record.value);
  }
}

/**
 * Same record, apart from updatedAt. Key order does not matter (a record
 * read back comes in schema order, one built here in patch order) and keys
 * with undefined values count as absent.
 */
export function sameExceptTimestamp(a: CallRecord, b: CallRecord): boolean {
  return canonical({ ...a, updatedAt: undefined }) === canonical({ ...b, updatedAt: undefined });
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

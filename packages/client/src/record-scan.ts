/**
 * The one bounded way to list call records: the gateway's `tasks/list`,
 * the console's call list and `/api/calls`, `mcpq ls` and McpqClient.list
 * all page through this. One request reads at most `scanLimit` records
 * (matching or not) and keeps at most `pageSize`: its work is bounded
 * whatever the number of records, so a page may hold fewer than `pageSize`,
 * even none, and still carry a `nextCursor`. Only a page without one is the
 * last.
 *
 * The calls bucket keeps one message per record (history 1) in its stream,
 * so the stream yields every record once, in the order of its last update.
 * An ordered consumer reads it from a sequence on, one bounded pull a
 * request (nats-server 2.9.10 cannot batch direct gets). Two orders:
 * - `oldest` (cursor `r<seq>`: the sequence to go on from) walks forward. A
 *   record updated while a reader pages moves to the end of the stream: it
 *   may come again on a later page, and a record that exists throughout is
 *   never skipped (what `tasks/list` promises).
 * - `newest` (cursor `n<seq>`: go on below this sequence) walks back a window
 *   of `scanLimit` sequences at a time, newest first (what operators want to
 *   see). A record updated while a reader pages moves above the first page:
 *   a live view (the console's feed) shows it, a later page does not.
 * With nothing changing, following the cursors returns every record exactly
 * once in either order.
 */
import { DeliverPolicy, type JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { ErrorCode, McpqError, parseRecord, type CallRecord } from '@mcpq/contract';

export type ScanOrder = 'oldest' | 'newest';

/** The calls bucket, and the JetStream client to read its stream with (the same API prefix). */
export interface RecordSource {
  js: JetStreamClient;
  kv: KV;
}

/** The bucket's stream and the subject prefix of its keys (`$KV.<bucket>.`). */
interface StreamOf {
  name: string;
  keyPrefix: string;
}

export interface ScanOptions {
  order: ScanOrder;
  /** Records read at most (matching or not, unreadable ones and deletions included). */
  scanLimit: number;
  /** Records kept at most. */
  pageSize: number;
  /** Where to go on from: a `nextCursor` of an earlier page of the same order; absent for the first page. */
  cursor?: string | undefined;
  /** Whether a record is kept (the principal may see it, the filters); default: every record. */
  match?: ((record: CallRecord) => boolean) | undefined;
  /** Bound on the whole pass (default 10 s). */
  timeoutMs?: number | undefined;
}

export interface ScannedRecord {
  record: CallRecord;
  /** The record's stream sequence (its KV revision): a newer write of the same call has a higher one. */
  revision: number;
}

export interface ScanPage {
  /** Kept records, in the scan's order. */
  records: ScannedRecord[];
  /** Where the next page starts; absent when this page is the last. */
  nextCursor?: string;
  /** Records this pass read (at most scanLimit). */
  scanned: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const CURSOR = { oldest: /^r([1-9][0-9]{0,15})$/, newest: /^n([1-9][0-9]{0,15})$/ } as const;

export async function scanRecords(source: RecordSource, options: ScanOptions): Promise<ScanPage> {
  if (!(options.scanLimit >= 1 && options.pageSize >= 1))
    throw new McpqError(ErrorCode.invalid_request, 'a listing needs a page size and a scan limit of at least 1');
  const info = (await source.kv.status()).streamInfo;
  const { state } = info;
  const at = options.cursor === undefined ? undefined : parseCursor(options.cursor, options.order, state.last_seq);
  if (state.messages === 0) return { records: [], scanned: 0 };
  const stream = { name: info.config.name, keyPrefix: (info.config.subjects?.[0] ?? '>').slice(0, -1) };
  return options.order === 'oldest'
    ? forward(source, stream, at ?? 1, state.last_seq, options)
    : backward(source, stream, at ?? state.last_seq + 1, state.first_seq, options);
}

/**
 * A cursor's sequence. Every cursor handed out names a sequence the stream
 * had reached, so one past its last is not from this listing (another
 * deployment's, a recreated bucket's): refused like garbage.
 */
function parseCursor(cursor: string, order: ScanOrder, lastSeq: number): number {
  const m = CURSOR[order].exec(cursor);
  const seq = m ? Number(m[1]) : NaN;
  if (!(seq <= lastSeq))
    throw new McpqError(
      ErrorCode.invalid_request,
      `invalid cursor "${cursor.slice(0, 40)}": not one this listing (${order} first) handed out; start again without a cursor`,
    );
  return seq;
}

/** From `from` up to `end` (the last sequence when the pass began: later writes are left to a later page). */
async function forward(source: RecordSource, stream: StreamOf, from: number, end: number, options: ScanOptions): Promise<ScanPage> {
  const records: ScannedRecord[] = [];
  const read = await readRange(source, stream, from, end, options, (r) => {
    records.push(r);
    return records.length < options.pageSize;
  });
  return read.next === undefined ? { records, scanned: read.scanned } : { records, nextCursor: `r${read.next}`, scanned: read.scanned };
}

/**
 * Below `below`, newest first: reads the window of the `scanLimit`
 * sequences under it (oldest first, as the stream gives them), keeps the
 * newest `pageSize` matches, and goes on below the last kept one (a full
 * page) or below the window.
 */
async function backward(source: RecordSource, stream: StreamOf, below: number, firstSeq: number, options: ScanOptions): Promise<ScanPage> {
  const from = Math.max(1, firstSeq, below - options.scanLimit);
  const records: ScannedRecord[] = [];
  const read = await readRange(source, stream, from, below - 1, options, (r) => (records.push(r), true));
  // A window left unread would be skipped for good (its records are newer than where the next page starts).
  if (read.next !== undefined)
    throw new McpqError(ErrorCode.nats_error, `the call records were not read within ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`);
  records.reverse();
  const scanned = read.scanned;
  if (records.length > options.pageSize) {
    const page = records.slice(0, options.pageSize);
    return { records: page, nextCursor: `n${page[page.length - 1]!.revision}`, scanned };
  }
  return from > firstSeq ? { records, nextCursor: `n${from}`, scanned } : { records, scanned };
}

/**
 * Reads the records at sequences `from`..`to`, at most `scanLimit`, handing
 * each kept one to `keep` (which says whether to go on). One pull of at most
 * that many messages from an ordered consumer: NATS sends no more than the
 * bound, whatever the bucket holds past it (a KV watch is pushed everything
 * up to its flow-control window). `next` is where an unfinished pass would
 * go on; absent when it reached `to` or the end of the stream.
 */
async function readRange(
  source: RecordSource,
  stream: StreamOf,
  from: number,
  to: number,
  options: ScanOptions,
  keep: (r: ScannedRecord) => boolean,
): Promise<{ scanned: number; next?: number }> {
  if (from > to) return { scanned: 0 };
  // No subject filter: the bucket's stream holds its keys only, and an unfiltered consumer costs
  // nats-server nothing to count what is pending (a filtered one scans the stream from `from`).
  const consumer = await source.js.consumers.get(stream.name, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: from,
  });
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // The pull ends at its count, at `expires` (the server's answer when nothing is there to read), or
  // when the loop stops it.
  const messages = await consumer.fetch({ max_messages: Math.min(options.scanLimit, to - from + 1), expires: timeoutMs });
  let scanned = 0;
  let last = from - 1;
  let done = false;
  // Past `expires` the server has ended the pull; if it has not, NATS is failing (or refusing the pull).
  let cut = false;
  const timer = setTimeout(() => ((cut = true), messages.stop()), timeoutMs + 1_000);
  try {
    for await (const m of messages) {
      const seq = m.info.streamSequence;
      if (seq > to) {
        done = true;
        break;
      }
      scanned++;
      last = seq;
      let more = true;
      const operation = m.headers?.get('KV-Operation');
      if (!operation && m.data.length > 0) {
        let record: CallRecord | undefined;
        try {
          record = parseRecord(m.subject.slice(stream.keyPrefix.length), m.string());
        } catch {
          // a record mcpq cannot read is skipped here (it still counts as read); the services report it
        }
        if (record && (options.match?.(record) ?? true)) more = keep({ record, revision: seq });
      }
      // pending: messages after this one when it was sent (0: the stream's current end).
      if (seq >= to || m.info.pending === 0) {
        done = true;
        break;
      }
      if (!more || scanned >= options.scanLimit) break;
    }
  } finally {
    clearTimeout(timer);
    messages.stop();
  }
  if (cut && scanned === 0)
    throw new McpqError(
      ErrorCode.nats_error,
      `the call records were not read within ${timeoutMs} ms (is NATS reachable, may this user pull from ${stream.name}?)`,
    );
  // The server ended the pull with nothing to give: nothing at or after `from`.
  if (scanned === 0) done = true;
  return done ? { scanned } : { scanned, next: last + 1 };
}

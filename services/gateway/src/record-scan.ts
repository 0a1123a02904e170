/**
 * One bounded pass over the call records, for `tasks/list`. The calls
 * bucket keeps one message per record (history 1) in its stream, so the
 * stream, read from a sequence on, yields every record once, in the order
 * of their last update (oldest first). A pass starts at the sequence a
 * cursor names and stops after `maxRecords` records read (whoever they
 * belong to), after `maxMatches` kept, or at the end of the stream as it
 * was when the pass began: one request never reads the whole bucket, and
 * the next one goes on from where this one stopped.
 *
 * A record updated while a host pages moves to the end of the stream: it
 * may come again on a later page; a record that exists throughout is never
 * skipped.
 */
import { parseRecord, type ServiceContext } from '@mcpq/shared';
import { toCallInfo, type CallInfo } from '@mcpq/client';

type CallsBucket = ServiceContext['kv'];

export interface ScanOptions {
  /** Records read at most (matching or not, unreadable ones included). */
  maxRecords: number;
  /** Records kept at most. */
  maxMatches: number;
  /** Whether a record is kept (e.g. the principal may see it). */
  match: (info: CallInfo) => boolean;
  /** Bound on the whole pass; a pass cut by it goes on from where it stopped. */
  timeoutMs: number;
}

export interface ScanPage {
  matches: CallInfo[];
  /** The stream sequence the next pass starts at; absent when the pass reached the end. */
  next?: number;
  /** Records read by this pass. */
  scanned: number;
}

export async function scanRecords(kv: CallsBucket, from: number, options: ScanOptions): Promise<ScanPage> {
  const matches: CallInfo[] = [];
  const state = (await kv.status()).streamInfo.state;
  // Nothing at or after `from`: an empty bucket, or a cursor past its end (the watch would wait for updates).
  if (state.messages === 0 || from > state.last_seq) return { matches, scanned: 0 };
  // Records updated after the pass began are left to a later page (they are at the end of the stream).
  const end = state.last_seq;
  const watch = await kv.watch({ resumeFromRevision: Math.max(1, from) });
  let scanned = 0;
  let last = from - 1;
  let reachedEnd = false;
  const timer = setTimeout(() => watch.stop(), options.timeoutMs);
  try {
    for await (const entry of watch) {
      if (entry.revision > end) {
        reachedEnd = true;
        break;
      }
      scanned++;
      last = entry.revision;
      if (entry.operation === 'PUT' && entry.length > 0) {
        try {
          const info = toCallInfo(parseRecord(entry.key, entry.string()));
          if (options.match(info)) matches.push(info);
        } catch {
          // a record mcpq cannot read is skipped here (it still counts as read); the services report it
        }
      }
      if (entry.revision >= end || entry.delta === 0) {
        reachedEnd = true;
        break;
      }
      if (scanned >= options.maxRecords || matches.length >= options.maxMatches) break;
    }
  } finally {
    clearTimeout(timer);
    watch.stop();
  }
  return reachedEnd ? { matches, scanned } : { matches, next: last + 1, scanned };
}

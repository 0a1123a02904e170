/**
 * An in-memory SSE event store that replays per stream, as resumability
 * needs: a resumed GET gets exactly the events of the stream its
 * Last-Event-ID came from, in order. Event ids are `<streamId>~<seq>`.
 */
import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

interface StoredStream {
  events: Array<{ id: string; message: JSONRPCMessage }>;
  touched: number;
}

/** Expired streams are looked for at most this often. */
const PRUNE_EVERY_MS = 1_000;

/**
 * Faults of event stores found in the wild, for testing clients against them:
 * - `foreign-replay`: a resume replays the events of every stream after the
 *   given one, not just that stream's (like server-everything's store);
 * - `no-live-on-resume`: a resumed stream gets the replay but no live events;
 * - `out-of-order`: the replay comes in reverse order;
 * - `replay-errors`: the first `replayErrors` resumes fail (HTTP 500).
 */
export type EventStoreFault = 'foreign-replay' | 'no-live-on-resume' | 'out-of-order' | 'replay-errors';

export interface EventStoreOptions {
  retainMs?: number;
  fault?: EventStoreFault | undefined;
  /** With fault `replay-errors`: how many resumes fail (default 2). */
  replayErrors?: number;
}

export class StreamEventStore implements EventStore {
  /** In the order last touched, the oldest first (a touch moves a stream to the end): pruning stops at the first fresh one. */
  private readonly streams = new Map<string, StoredStream>();
  private prunedAt = 0;
  /** Every event in the order stored (for the foreign-replay fault). */
  private readonly log: Array<{ id: string; message: JSONRPCMessage }> = [];
  private replayErrorsLeft: number;
  private readonly retainMs: number;

  /** Streams untouched for `retainMs` are forgotten (looked for at most once a second, on a store). */
  constructor(private readonly options: EventStoreOptions = {}) {
    this.retainMs = options.retainMs ?? 10 * 60_000;
    this.replayErrorsLeft = options.fault === 'replay-errors' ? (options.replayErrors ?? 2) : 0;
  }

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const now = Date.now();
    if (now - this.prunedAt >= PRUNE_EVERY_MS) this.prune(now);
    const stream = this.streams.get(streamId) ?? { events: [], touched: now };
    this.touch(streamId, stream, now);
    const id = `${streamId}~${stream.events.length + 1}`;
    stream.events.push({ id, message });
    if (this.options.fault === 'foreign-replay') this.log.push({ id, message });
    return id;
  }

  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    const { streamId, seq } = parseEventId(eventId);
    const stream = streamId ? this.streams.get(streamId) : undefined;
    return stream && seq >= 1 && seq <= stream.events.length ? streamId : undefined;
  }

  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const { streamId, seq } = parseEventId(lastEventId);
    if (this.replayErrorsLeft > 0) {
      this.replayErrorsLeft--;
      throw new Error('injected replay failure');
    }
    const stream = this.streams.get(streamId);
    if (!stream) return streamId;
    this.touch(streamId, stream, Date.now());
    let events = stream.events.slice(seq);
    if (this.options.fault === 'foreign-replay') {
      const at = this.log.findIndex((e) => e.id === lastEventId);
      events = this.log.slice(at + 1);
    }
    if (this.options.fault === 'out-of-order') events = [...events].reverse();
    for (const event of events) await send(event.id, event.message);
    // Registering the resumed stream under another id leaves it with no live events.
    return this.options.fault === 'no-live-on-resume' ? `${streamId}~detached` : streamId;
  }

  /** Number of streams held (for tests and /stats). */
  get size(): number {
    return this.streams.size;
  }

  private touch(streamId: string, stream: StoredStream, now: number): void {
    stream.touched = now;
    this.streams.delete(streamId);
    this.streams.set(streamId, stream);
  }

  /**
   * Forgets the streams untouched for `retainMs`. Only the expired ones are
   * visited (the map is in touch order): a scan of every stream on every new
   * one made each call cost more than the last (a 100,000-call soak slowed
   * from 600 to 85 calls/s).
   */
  private prune(now: number): void {
    this.prunedAt = now;
    for (const [id, s] of this.streams) {
      if (now - s.touched <= this.retainMs) break;
      this.streams.delete(id);
    }
  }
}

function parseEventId(eventId: string): { streamId: string; seq: number } {
  const at = eventId.lastIndexOf('~');
  if (at <= 0) return { streamId: '', seq: 0 };
  const seq = Number(eventId.slice(at + 1));
  return { streamId: eventId.slice(0, at), seq: Number.isInteger(seq) ? seq : 0 };
}

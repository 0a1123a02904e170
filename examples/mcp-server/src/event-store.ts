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

export class StreamEventStore implements EventStore {
  private readonly streams = new Map<string, StoredStream>();

  /** Streams untouched for `retainMs` are forgotten (checked on every store). */
  constructor(private readonly retainMs = 10 * 60_000) {}

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const now = Date.now();
    let stream = this.streams.get(streamId);
    if (!stream) {
      this.prune(now);
      stream = { events: [], touched: now };
      this.streams.set(streamId, stream);
    }
    stream.touched = now;
    const id = `${streamId}~${stream.events.length + 1}`;
    stream.events.push({ id, message });
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
    const stream = this.streams.get(streamId);
    if (!stream) return streamId;
    stream.touched = Date.now();
    for (const event of stream.events.slice(seq)) await send(event.id, event.message);
    return streamId;
  }

  /** Number of streams held (for tests and /stats). */
  get size(): number {
    return this.streams.size;
  }

  private prune(now: number): void {
    for (const [id, s] of this.streams) if (now - s.touched > this.retainMs) this.streams.delete(id);
  }
}

function parseEventId(eventId: string): { streamId: string; seq: number } {
  const at = eventId.lastIndexOf('~');
  if (at <= 0) return { streamId: '', seq: 0 };
  const seq = Number(eventId.slice(at + 1));
  return { streamId: eventId.slice(0, at), seq: Number.isInteger(seq) ? seq : 0 };
}

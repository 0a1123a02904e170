/**
 * A lean Server-Sent Events reader over an HTTP body (fetch's, or node:http's
 * for the held resume GET): one parser and no text decoder per stream, no
 * reconnection logic of its own (the joiner decides when to re-GET), and a
 * bound on how much one event may buffer.
 */
import { Readable } from 'node:stream';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { DEFAULT_MAX_RESPONSE_BYTES } from '../bounds/body.js';
import { ErrorCode, McpqError } from '@mcpq/contract';

export type SseEvent = EventSourceMessage;

export interface SseReadOptions {
  /** Called when the server sends a `retry:` field (SEP-1699 polling interval). */
  onRetry?: (ms: number) => void;
  /** Largest event kept in memory, in characters (`limits.maxResponseBytes`); a larger one fails the read with `response_too_large`. */
  maxEventChars?: number;
  /**
   * When the reader stops early, keep reading (and dropping) for up to this
   * long first: a server that ends the stream right after the answer then
   * leaves the connection reusable instead of torn down. 0: stop at once
   * (leaving a tools/call stream must not wait).
   */
  drainMs?: number;
  /**
   * Stops reading when aborted, even while waiting for the next chunk: the
   * events already received are still yielded, then the stream ends (its
   * body is cancelled, as on any early exit).
   */
  signal?: AbortSignal;
}

/** A body readSse reads: fetch's web stream, or node:http's Readable (the held resume GET, lean-get.ts). */
export type SseBody = ReadableStream<Uint8Array> | Readable;

/** Yields each event of the stream; ends when the server closes it. Cancels the body on early exit. */
export async function* readSse(body: SseBody, options: SseReadOptions = {}): AsyncGenerator<SseEvent> {
  const source = chunksOf(body);
  const lines = new LineBytes();
  const pending: SseEvent[] = [];
  let parseError: McpqError | undefined;
  const maxEventChars = options.maxEventChars ?? DEFAULT_MAX_RESPONSE_BYTES;
  const tooLarge = (): McpqError =>
    new McpqError(ErrorCode.response_too_large, `an SSE event is larger than ${maxEventChars} characters (limits.maxResponseBytes)`, {
      data: { limit: maxEventChars },
    });
  let ended = false;
  const parser = createParser({
    onEvent: (event) => pending.push(event),
    onRetry: (ms) => options.onRetry?.(ms),
    onError: (err) => {
      if (err.type === 'max-buffer-size-exceeded') parseError = tooLarge();
    },
    maxBufferSize: maxEventChars,
  });
  const stop = (): void => source.cancel();
  options.signal?.addEventListener('abort', stop, { once: true });
  try {
    for (;;) {
      const { value, done } = await source.next();
      // An event without its closing blank line at EOF is dropped, as the SSE spec says.
      const text = done ? lines.end() : lines.take(value);
      if (text) parser.feed(text);
      // A line that never ends is held as bytes, not yet in the parser: it counts toward the same bound.
      if (!parseError && lines.pending > maxEventChars) parseError = tooLarge();
      if (parseError) throw parseError;
      while (pending.length > 0) yield pending.shift()!;
      if (done) {
        ended = true;
        return;
      }
    }
  } finally {
    options.signal?.removeEventListener('abort', stop);
    if (!ended && options.drainMs) await drain(source, options.drainMs);
    // Closing our side only: for an MCP POST stream this detaches without cancelling the call.
    source.cancel();
  }
}

interface ChunkSource {
  next(): Promise<{ value?: Uint8Array; done?: boolean }>;
  cancel(): void;
}

function chunksOf(body: SseBody): ChunkSource {
  if (body instanceof Readable) {
    const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
    return { next: () => chunks.next(), cancel: () => void body.destroy() };
  }
  const reader = body.getReader();
  return { next: () => reader.read(), cancel: () => void reader.cancel().catch(() => undefined) };
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Turns chunks of bytes into text, a complete line at a time. A UTF-8
 * character never contains a CR or LF byte, so text cut right after a line
 * break is whole characters: it is decoded at once, with no decoder kept per
 * stream. Only the bytes after the last line break wait for the next chunk.
 */
class LineBytes {
  /** The unfinished line: chunks kept apart (copied), so that a long line costs no repeated concatenation. */
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private started = false;

  /** Bytes received but not yet given out (an unfinished line). */
  get pending(): number {
    return this.tailBytes;
  }

  take(chunk: Uint8Array | undefined): string {
    if (!chunk || chunk.length === 0) return '';
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const cut = Math.max(bytes.lastIndexOf(LF), bytes.lastIndexOf(CR)) + 1;
    // Copies: a slice would keep the whole (possibly large, pooled) chunk alive with the held stream.
    if (cut === 0) {
      this.tail.push(Buffer.from(bytes));
      this.tailBytes += bytes.length;
      return '';
    }
    const head = this.tail.length > 0 ? Buffer.concat([...this.tail, bytes.subarray(0, cut)]) : bytes.subarray(0, cut);
    this.tail = cut < bytes.length ? [Buffer.from(bytes.subarray(cut))] : [];
    this.tailBytes = bytes.length - cut;
    return this.text(head);
  }

  end(): string {
    const rest = this.tail;
    this.tail = [];
    this.tailBytes = 0;
    return rest.length > 0 ? this.text(Buffer.concat(rest)) : '';
  }

  private text(bytes: Buffer): string {
    const text = bytes.toString('utf8');
    if (this.started) return text;
    this.started = true;
    // TextDecoder drops a leading byte order mark; so does this.
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }
}

/** Reads to the end of the stream, for at most `ms`. */
async function drain(source: ChunkSource, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)));
  try {
    for (;;) {
      const r = await Promise.race([source.next(), timeout]);
      if (r === 'timeout' || r.done) return;
    }
  } catch {
    // the stream failed: nothing to keep
  } finally {
    clearTimeout(timer);
  }
}

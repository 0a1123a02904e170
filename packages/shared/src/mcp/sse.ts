/**
 * A lean Server-Sent Events reader over an HTTP body (node:http's Readable,
 * http-transport.ts): one parser and no text decoder per stream, no
 * reconnection logic of its own (the joiner decides when to re-GET), and a
 * bound on how much one event may buffer.
 */
import type { Readable } from 'node:stream';
import { ErrorCode, McpqError } from '@mcpq/contract';
import { discard } from './http-transport.js';
import { recordableMs } from '../bounds/delay.js';

/** One event: its data (lines joined with LF), its id and its type, when it had them. */
export interface SseEvent {
  data: string;
  id?: string | undefined;
  event?: string | undefined;
}

export interface SseReadOptions {
  /** Called when the server sends a `retry:` field (SEP-1699 polling interval). */
  onRetry?: (ms: number) => void;
  /**
   * Largest event kept in memory, in characters (`limits.maxResponseBytes`); a larger one fails the read with `response_too_large`.
   * Required, with no fallback: a reader that forgot it once read 2026-07-28 answers under a built-in cap instead of the configured one.
   */
  maxEventChars: number;
  /**
   * Asked when the reader stops before the stream's end. True when the server
   * is expected to end the stream now (the answer came, as on every short
   * request and a tools/call answered within its window): the rest of the
   * body is then read and dropped in the background, bounded in time and
   * bytes (http-transport's `discard`), so that the keep-alive connection
   * goes back to the pool instead of being torn down (a new TCP connection
   * per short call cost the submitter ~10% of its CPU). The caller never
   * waits for it. False or absent: the body is destroyed at once (leaving a
   * running tools/call stream must neither wait nor read on).
   */
  reuseAfterExit?: () => boolean;
  /**
   * The event ids are resume tokens (a tools/call stream, a resumed one): an
   * id that cannot be one (longer than MAX_EVENT_ID_CHARS, or with a
   * character a Last-Event-ID header cannot carry) fails the read with
   * `protocol_error`. Otherwise such an id is dropped, as one holding NUL.
   */
  idsResume?: boolean;
  /**
   * Stops reading when aborted, even while waiting for the next chunk: the
   * events already received are still yielded, then the stream ends (its
   * body is cancelled, as on any early exit).
   */
  signal?: AbortSignal;
}

/** A body readSse reads: node:http's Readable (http-transport.ts). */
export type SseBody = Readable;

/** Yields each event of the stream; ends when the server closes it. Cancels the body on early exit. */
export async function* readSse(body: SseBody, options: SseReadOptions): AsyncGenerator<SseEvent> {
  const source = nodeChunks(body);
  const parser = new SseParser(options.maxEventChars, options.onRetry, options.idsResume);
  let ended = false;
  const stop = (): void => source.cancel();
  options.signal?.addEventListener('abort', stop, { once: true });
  // An abort before the listener (between the request and this read) fires no event.
  if (options.signal?.aborted) stop();
  try {
    for (;;) {
      const { value, done } = await source.next();
      // An event without its closing blank line at EOF is dropped, as the SSE spec says.
      const events = done ? parser.end() : parser.feed(value);
      if (events) for (const event of events) yield event;
      // What failed the stream within that chunk comes after the events it completed before.
      if (parser.failure) throw parser.failure;
      if (done) {
        ended = true;
        return;
      }
    }
  } finally {
    options.signal?.removeEventListener('abort', stop);
    if (!ended && options.reuseAfterExit?.()) source.release();
    // Closing our side only: for an MCP POST stream this detaches without cancelling the call.
    else source.cancel();
  }
}

interface ChunkSource {
  next(): Promise<{ value?: Uint8Array; done?: boolean }>;
  cancel(): void;
  /** Stops reading; the rest of the stream is dropped in the background (see `reuseAfterExit`). */
  release(): void;
}

/**
 * Chunks of a node Readable, pulled with read(). Lighter than the stream's
 * async iterator (which also keeps a set of end-of-stream closures per
 * stream): four listeners and, while waiting, one promise. A stream that
 * closes before its end (a cut connection) fails the read.
 */
function nodeChunks(stream: Readable): ChunkSource {
  let wake: (() => void) | undefined;
  let cancelled = false;
  let ended = stream.readableEnded;
  // Destroyed before this reader came (an abort right after the response head): its events are gone.
  let failure: unknown = stream.destroyed && !ended ? (stream.errored ?? new Error('the stream closed before its end')) : undefined;
  const poke = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onEnd = (): void => {
    ended = true;
    poke();
  };
  const onError = (err: Error): void => {
    failure ??= err;
    poke();
  };
  const onClose = (): void => {
    if (!ended) failure ??= new Error('the stream closed before its end');
    poke();
  };
  stream.on('readable', poke);
  stream.on('end', onEnd);
  stream.on('error', onError);
  stream.on('close', onClose);
  return {
    async next() {
      for (;;) {
        // Our own cancel (an early exit, or `signal`) ends the read; it is no failure of the stream.
        if (cancelled) return { done: true };
        if (failure !== undefined) throw failure;
        const chunk = stream.read() as Uint8Array | null;
        if (chunk !== null) return { value: chunk };
        if (ended) return { done: true };
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    cancel: () => {
      cancelled = true;
      stream.destroy();
    },
    release: () => {
      cancelled = true;
      // A 'readable' listener keeps the stream paused (resume() would do nothing): this reader's go first.
      stream.off('readable', poke);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
      discard(stream);
    },
  };
}

const LF = 0x0a;
const CR = 0x0d;
/**
 * Longest event id kept. An id is a resume token: it goes into the call
 * record (one NATS message) and back to the server in a Last-Event-ID header
 * (servers refuse a head of 8-16 KB). The SDK's are about 60 characters.
 */
export const MAX_EVENT_ID_CHARS = 4096;
/** What node:http can send in a header value (its own check): tab, visible ASCII, space, and latin-1. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * The event stream format (WHATWG HTML, "Server-sent events"), as a small
 * object: its whole state is the unfinished line (bytes), the event being
 * built and the flags below, which is all a held stream keeps between
 * chunks. A UTF-8 character never contains a CR or LF byte, so text cut
 * right after a line break is whole characters: complete lines are decoded
 * at once, with no decoder kept per stream.
 *
 * Like the eventsource-parser it replaces: an event is dispatched at a blank
 * line when it had a `data` field (even an empty one: an MCP priming event
 * carries only an id); `id` belongs to that event only (the reader of the
 * stream keeps the last one); a value containing NUL is no id, nor is one
 * that cannot be a Last-Event-ID header (longer than MAX_EVENT_ID_CHARS, or
 * a character node:http cannot send), which fails the read where ids are
 * resume tokens (`idsResume`); `retry`
 * must be digits; comments and unknown fields are ignored; one leading BOM
 * is dropped. An event, or a line, larger than `maxChars` fails the read
 * with `response_too_large`.
 */
export class SseParser {
  /** The unfinished line: chunks kept apart (copied), so that a long line costs no repeated concatenation. */
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private started = false;
  /** The last line ended with CR: an LF right after it ends nothing more. */
  private afterCr = false;
  private data: string | undefined;
  private id: string | undefined;
  private event: string | undefined;
  /** Why the stream cannot be read on (a line of a chunk failed); the events completed before it are still handed out. */
  failure: McpqError | undefined;

  constructor(
    private readonly maxChars: number,
    private readonly onRetry?: (ms: number) => void,
    /** The ids are resume tokens (see SseReadOptions.idsResume). */
    private readonly idsResume = false,
  ) {}

  /** The events completed by this chunk (undefined when none). */
  feed(chunk: Uint8Array | undefined): SseEvent[] | undefined {
    if (!chunk || chunk.length === 0) return undefined;
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const cut = Math.max(bytes.lastIndexOf(LF), bytes.lastIndexOf(CR)) + 1;
    // Copies: a slice would keep the whole (possibly large, pooled) chunk alive with the held stream.
    if (cut === 0) {
      this.tail.push(Buffer.from(bytes));
      this.tailBytes += bytes.length;
      this.checkSize();
      return undefined;
    }
    const head = this.tail.length > 0 ? Buffer.concat([...this.tail, bytes.subarray(0, cut)]) : bytes.subarray(0, cut);
    this.tail = cut < bytes.length ? [Buffer.from(bytes.subarray(cut))] : [];
    this.tailBytes = bytes.length - cut;
    const events = this.lines(this.text(head));
    this.checkSize();
    return events;
  }

  /** The end of the stream: an unfinished line or event is dropped (an event ends with a blank line). */
  end(): SseEvent[] | undefined {
    this.tail = [];
    this.tailBytes = 0;
    this.data = this.id = this.event = undefined;
    return undefined;
  }

  private text(bytes: Buffer): string {
    const text = bytes.toString('utf8');
    if (this.started) return text;
    this.started = true;
    // TextDecoder drops a leading byte order mark; so does this.
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }

  /** Parses text made of complete lines (it ends with CR or LF). */
  private lines(text: string): SseEvent[] | undefined {
    let events: SseEvent[] | undefined;
    let start = 0;
    if (this.afterCr && text.charCodeAt(0) === LF) start = 1;
    this.afterCr = false;
    while (start < text.length) {
      let end = start;
      while (end < text.length) {
        const c = text.charCodeAt(end);
        if (c === LF || c === CR) break;
        end++;
      }
      if (end === text.length) break; // cannot happen: the text ends with a line break
      let event: SseEvent | undefined;
      try {
        event = this.line(text, start, end);
      } catch (err) {
        this.failure = err as McpqError;
        return events;
      }
      if (event) (events ??= []).push(event);
      if (text.charCodeAt(end) === CR) {
        if (end + 1 === text.length) this.afterCr = true;
        else if (text.charCodeAt(end + 1) === LF) end++;
      }
      start = end + 1;
    }
    return events;
  }

  /** One line; returns the event a blank line completes. */
  private line(text: string, start: number, end: number): SseEvent | undefined {
    if (start === end) {
      const { data, id, event } = this;
      this.data = this.id = this.event = undefined;
      if (data === undefined) return undefined;
      return { data, id, event };
    }
    const line = text.slice(start, end);
    if (line.charCodeAt(0) === 0x3a) return undefined; // a comment
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(line.charCodeAt(colon + 1) === 0x20 ? colon + 2 : colon + 1);
    switch (field) {
      case 'data':
        this.data = this.data === undefined ? value : `${this.data}\n${value}`;
        // An event that arrives whole within one chunk is never an unfinished tail: checked here too.
        if (this.data.length > this.maxChars) this.checkSize();
        break;
      case 'id':
        if (value.includes('\0')) break;
        if (value.length > MAX_EVENT_ID_CHARS || !HEADER_VALUE.test(value)) {
          // Not usable as a resume token: dropped, or, where ids are resume tokens, a clear failure now rather
          // than a resume GET that fails as if the server were unreachable, again and again, or a record too
          // large to write.
          if (!this.idsResume) break;
          throw new McpqError(
            ErrorCode.protocol_error,
            value.length > MAX_EVENT_ID_CHARS
              ? `the server sent an SSE event id of ${value.length} characters (more than ${MAX_EVENT_ID_CHARS}): too long to keep as a resume token`
              : 'the server sent an SSE event id that cannot be sent back in a Last-Event-ID header (a character outside latin-1, or a control character)',
            { data: { idChars: value.length } },
          );
        }
        this.id = value;
        break;
      case 'event':
        this.event = value || undefined;
        break;
      case 'retry':
        // Digits only; a value past 2^53 (a retry of 10^20 ms, or of 400 digits: Infinity) is handed on as the
        // largest safe integer: it is kept in the call record, whose schema wants one (every reader caps it).
        if (/^\d+$/.test(value)) this.onRetry?.(recordableMs(Number(value))!);
        break;
    }
    return undefined;
  }

  /** The unfinished line and the event being built together stay within maxChars. */
  private checkSize(): void {
    if (this.tailBytes + (this.data?.length ?? 0) <= this.maxChars) return;
    this.tail = [];
    this.data = undefined;
    throw new McpqError(ErrorCode.response_too_large, `an SSE event is larger than ${this.maxChars} characters (limits.maxResponseBytes)`, {
      data: { limit: this.maxChars },
    });
  }
}

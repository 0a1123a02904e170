/**
 * A lean Server-Sent Events reader over a fetch body: one parser, no
 * reconnection logic of its own (the joiner decides when to re-GET), and a
 * bound on how much one event may buffer.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { ErrorCode, McpqError } from '@mcpq/contract';

export type SseEvent = EventSourceMessage;

export interface SseReadOptions {
  /** Called when the server sends a `retry:` field (SEP-1699 polling interval). */
  onRetry?: (ms: number) => void;
  /**
   * Largest event kept in memory, in characters (`limits.maxResponseBytes`); a larger one fails the read with `response_too_large`.
   * Required, with no fallback: a reader that forgot it once read 2026-07-28 answers under a built-in cap instead of the configured one.
   */
  maxEventChars: number;
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

/** Yields each event of the stream; ends when the server closes it. Cancels the body on early exit. */
export async function* readSse(body: ReadableStream<Uint8Array>, options: SseReadOptions): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const pending: SseEvent[] = [];
  let parseError: McpqError | undefined;
  const maxEventChars = options.maxEventChars;
  let ended = false;
  const parser = createParser({
    onEvent: (event) => pending.push(event),
    onRetry: (ms) => options.onRetry?.(ms),
    onError: (err) => {
      if (err.type === 'max-buffer-size-exceeded') {
        parseError = new McpqError(
          ErrorCode.response_too_large,
          `an SSE event is larger than ${maxEventChars} characters (limits.maxResponseBytes)`,
          { data: { limit: maxEventChars } },
        );
      }
    },
    maxBufferSize: maxEventChars,
  });
  const stop = (): void => void reader.cancel().catch(() => undefined);
  options.signal?.addEventListener('abort', stop, { once: true });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      // An event without its closing blank line at EOF is dropped, as the SSE spec says.
      parser.feed(done ? decoder.decode() : decoder.decode(value, { stream: true }));
      if (parseError) throw parseError;
      while (pending.length > 0) yield pending.shift()!;
      if (done) {
        ended = true;
        return;
      }
    }
  } finally {
    options.signal?.removeEventListener('abort', stop);
    if (!ended && options.drainMs) await drain(reader, options.drainMs);
    // Closing our side only: for an MCP POST stream this detaches without cancelling the call.
    reader.cancel().catch(() => undefined);
  }
}

/** Reads to the end of the stream, for at most `ms`. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)));
  try {
    for (;;) {
      const r = await Promise.race([reader.read(), timeout]);
      if (r === 'timeout' || r.done) return;
    }
  } catch {
    // the stream failed: nothing to keep
  } finally {
    clearTimeout(timer);
  }
}

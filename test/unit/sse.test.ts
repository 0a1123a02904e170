/**
 * The SSE reader (mcp/sse.ts): the event stream format, whatever way the
 * bytes are cut into chunks, from a node Readable (node:http's body), and
 * its bound on one event.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isMcpqError, MAX_EVENT_ID_CHARS, readSse, type SseEvent } from '@mcpq/shared';

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

/** Reads `chunks` as a node Readable, each chunk as it is cut. */
async function read(chunks: Uint8Array[], maxEventChars?: number): Promise<{ events: SseEvent[]; retries: number[] }> {
  const body = Readable.from(chunks.map((c) => Buffer.from(c)));
  const events: SseEvent[] = [];
  const retries: number[] = [];
  for await (const e of readSse(body, { onRetry: (ms) => retries.push(ms), maxEventChars: maxEventChars ?? 1 << 20 })) events.push(e);
  return { events, retries };
}

/** `text` cut into chunks at every possible place (two cuts), events must not depend on it. */
async function everyCut(text: string): Promise<SseEvent[]> {
  const all = bytes(text);
  const whole = (await read([all])).events;
  for (let i = 0; i <= all.length; i++) {
    const j = Math.min(all.length, i + 3);
    const cut = (await read([all.subarray(0, i), all.subarray(i, j), all.subarray(j)])).events;
    expect(cut, `cut at ${i} and ${j}`).toEqual(whole);
  }
  return whole;
}

describe('readSse', () => {
  it('parses ids, event types, multi-line data and every line ending, however the bytes are cut', async () => {
    const events = await everyCut('id: 1\nevent: message\ndata: {"a":1}\n\nid:2\r\ndata: line one\r\ndata:line two\r\n\r\ndata: é€😀\r\r');
    expect(events).toEqual([
      { id: '1', event: 'message', data: '{"a":1}' },
      { id: '2', event: undefined, data: 'line one\nline two' },
      { id: undefined, event: undefined, data: 'é€😀' },
    ]);
  });

  it('dispatches a priming event (an id and empty data), ignores comments and unknown fields, drops one BOM', async () => {
    const events = await everyCut('\uFEFF: a comment\nid: p0\ndata:\n\nfoo: bar\nid: x\n\ndata\n\n');
    expect(events).toEqual([
      { id: 'p0', event: undefined, data: '' },
      { id: undefined, event: undefined, data: '' },
    ]);
  });

  it('reports retry only when it is digits, and drops an event the stream ends before its blank line', async () => {
    const { events, retries } = await read([bytes('retry: 2500\nretry: soon\nid: a\ndata: kept\n\nid: b\ndata: never ended\n')]);
    expect(retries).toEqual([2500]);
    expect(events).toEqual([{ id: 'a', event: undefined, data: 'kept' }]);
  });

  it('reports a retry past 2^53 (Infinity when parsed) as the largest safe integer, which a call record can hold', async () => {
    const { retries } = await read([
      bytes(`retry: 100000000000000000000\nretry: ${'9'.repeat(400)}\nretry: 9007199254740991\ndata: x\n\n`),
    ]);
    expect(retries).toEqual([Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]);
    for (const ms of retries) expect(Number.isSafeInteger(ms)).toBe(true);
  });

  it('fails when a node stream closes before its end (a cut connection), a cut connection', async () => {
    const stream = new Readable({ read() {} });
    stream.push(Buffer.from('data: a\n\n'));
    const events: SseEvent[] = [];
    const err = await (async () => {
      for await (const e of readSse(stream, { maxEventChars: 1 << 20 })) {
        events.push(e);
        setImmediate(() => stream.destroy());
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(events).toHaveLength(1);
    expect(err).toBeInstanceOf(Error);
  });

  it('ends without an error when its signal aborts while it waits for the next chunk (leaving a stream is no failure)', async () => {
    const stream = new Readable({ read() {} });
    stream.push(Buffer.from('id: 1\ndata: a\n\n'));
    const leave = new AbortController();
    const events: SseEvent[] = [];
    for await (const e of readSse(stream, { maxEventChars: 1 << 20, signal: leave.signal })) {
      events.push(e);
      setImmediate(() => leave.abort());
    }
    expect(events).toEqual([{ id: '1', event: undefined, data: 'a' }]);
    // Leaving closes our side of the body (for a tools/call POST: the detach).
    expect(stream.destroyed).toBe(true);
  });

  it('keeps an id holding NUL out of the event', async () => {
    const { events } = await read([bytes('id: a\u0000b\ndata: x\n\n')]);
    expect(events).toEqual([{ id: undefined, event: undefined, data: 'x' }]);
  });

  it('an id that cannot be a Last-Event-ID (past MAX_EVENT_ID_CHARS, or a character node:http cannot send) is dropped, or fails the read where ids are resume tokens', async () => {
    const long = 'i'.repeat(MAX_EVENT_ID_CHARS + 1);
    for (const bad of [long, 'e\u20ac1', 'a\u0001b', 'x\u007fy', 'emoji\u{1F600}']) {
      const text = `id: ok\ndata: a\n\nid: ${bad}\ndata: b\n\n`;
      expect((await read([bytes(text)])).events).toEqual([
        { id: 'ok', event: undefined, data: 'a' },
        { id: undefined, event: undefined, data: 'b' },
      ]);
      const events: SseEvent[] = [];
      const err = await (async () => {
        for await (const e of readSse(Readable.from([Buffer.from(text)]), { maxEventChars: 1 << 20, idsResume: true })) events.push(e);
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isMcpqError(err, ErrorCode.protocol_error), `${bad.slice(0, 20)}: ${String(err)}`).toBe(true);
      expect(events).toEqual([{ id: 'ok', event: undefined, data: 'a' }]);
    }
    // Latin-1 (sent as its bytes) and an id of exactly the bound are resume tokens.
    const fine = `id: caf\u00e9\ndata: a\n\nid: ${'i'.repeat(MAX_EVENT_ID_CHARS)}\ndata: b\n\n`;
    const ids: Array<string | undefined> = [];
    for await (const e of readSse(Readable.from([Buffer.from(fine)]), { maxEventChars: 1 << 20, idsResume: true })) ids.push(e.id);
    expect(ids).toEqual(['caf\u00e9', 'i'.repeat(MAX_EVENT_ID_CHARS)]);
  });

  it('fails with response_too_large on an event larger than the bound: many data lines, or one line that never ends', async () => {
    for (const chunks of [
      Array.from({ length: 50 }, () => bytes(`data: ${'x'.repeat(100)}\n`)),
      Array.from({ length: 50 }, () => bytes('y'.repeat(100))),
      // The whole event, blank line included, in one chunk (as a proxy or a fast server writes it).
      [bytes(`data: ${'z'.repeat(5_000)}\n\n`)],
    ]) {
      const err = await read(chunks, 1_000).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isMcpqError(err, ErrorCode.response_too_large), String(err)).toBe(true);
    }
    // The same events within the bound are read.
    expect((await read([bytes(`data: ${'x'.repeat(900)}\n\n`)], 1_000)).events).toHaveLength(1);
  });
});

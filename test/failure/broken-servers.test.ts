/**
 * Broken servers and poison payloads (issue 14): every call ends with a
 * specific code, no service loops on it (each failure is logged a bounded
 * number of times), and a good call right after completes.
 * Faults no real server produces on demand come from FaultProxy (a fault
 * injector in front of a real SDK server) and from a credential catcher (a
 * purpose-built HTTP server that only counts what reaches it).
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { brokenServersSuite, handlerFailuresOf } from '../helpers/broken-servers.js';
import { jsonRpcReply } from '../helpers/fault-proxy.js';
import { waitFor } from '../helpers/harness.js';

const MAX_ERROR_BYTES = 4_096;
const suite = brokenServersSuite({
  servers: {
    edge: { proxied: true },
    moved: { proxied: true, settings: { headers: { authorization: 'Bearer redirect-secret-9d1e' } } },
    polling: { closeStreams: true, retryIntervalMs: 600_000 },
    // A real SDK server asking for a retry past 2^53 ms: it writes `retry: 100000000000000000000`.
    absurdRetry: { closeStreams: true, retryIntervalMs: 1e20 },
    // A real SDK server whose tasks suggest a pollInterval of 10^20 ms.
    absurdPoll: { tasks: true, taskPollMs: 1e20 },
  },
  config: {
    limits: { maxErrorBytes: MAX_ERROR_BYTES, maxResponseBytes: 65_536, maxRetryAfterMs: 1_000 },
    joiner: { maxRejoinFailures: 2 },
  },
});

const idOf = (callId: string, attempt = 1) => `mcpq-${callId}-${attempt}`;
const result = (callId: string) => suite.h.client.result(callId, { timeoutMs: 45_000 });
/** Log lines of every service about a call at warn level or above. */
const warnings = (callId: string) =>
  suite.services.flatMap((s) => s.logs((l) => l.callId === callId && (l.level === 'warn' || l.level === 'error' || l.level === 'fatal')));
const handlerFailures = () => handlerFailuresOf(suite.services);

async function goodCallCompletes(server = 'edge'): Promise<void> {
  const { callId } = await suite.h.client.submit(server, 'echo', { text: 'still fine' });
  const r = await result(callId);
  expect(r.status, JSON.stringify(r.error)).toBe('completed');
}

describe('sizes, nesting and dead letters that fit', () => {
  it('a submission that grows past the NATS payload limit when escaped gets a dead letter that fits, once', async () => {
    // 450,000 escaped quotes: 900 KB as sent, 1.8 MB once embedded in a dead letter as a JSON string.
    const payload = `{"tool":"echo","arguments":{"text":"${'\\"'.repeat(450_000)}"}}`;
    const ack = await suite.h.js.publish(suite.h.names.submit('edge'), payload);
    const letter = await waitFor('the dead letter', async () => (await suite.h.deadLetters()).find((d) => d.seq === ack.seq), 30_000);
    expect(letter.code).toBe('invalid_request');
    expect(letter.payloadTruncated).toBe(true);
    expect(letter.payloadBytes).toBe(Buffer.byteLength(payload));
    expect(payload.startsWith(letter.payload!)).toBe(true);
    expect(handlerFailures()).toEqual([]);
    await goodCallCompletes();
  });

  it('arguments nested 100,000 levels deep end arguments_too_deep (no stack overflow, no retry loop)', async () => {
    const callId = 'deep-args-1';
    const deep = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
    await suite.h.js.publish(suite.h.names.submit('edge'), `{"callId":"${callId}","tool":"echo","arguments":${deep}}`, { msgID: callId });
    const r = await result(callId);
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('arguments_too_deep');
    expect(handlerFailures()).toEqual([]);
    expect(warnings(callId).length).toBeLessThanOrEqual(2);
    await goodCallCompletes();
  });

  it('meta nested past the limit ends arguments_too_deep as well', async () => {
    const callId = 'deep-meta-1';
    const deep = '['.repeat(5_000) + ']'.repeat(5_000);
    await suite.h.js.publish(
      suite.h.names.submit('edge'),
      `{"callId":"${callId}","tool":"echo","arguments":{"text":"x"},"meta":{"m":${deep}}}`,
      {
        msgID: callId,
      },
    );
    const r = await result(callId);
    expect(r.error?.code).toBe('arguments_too_deep');
    expect(r.error?.message).toMatch(/meta/);
  });

  it('a nameless submission nested 100,000 levels deep is dead-lettered once', async () => {
    const deep = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
    const ack = await suite.h.js.publish(suite.h.names.submit('edge'), `{"tool":"echo","arguments":${deep}}`);
    const letter = await waitFor('the dead letter', async () => (await suite.h.deadLetters()).find((d) => d.seq === ack.seq), 30_000);
    expect(letter.code).toBe('invalid_request');
    expect(handlerFailures()).toEqual([]);
  });
});

describe('huge server errors', () => {
  /** The next tools/call of `edge` is answered with a JSON-RPC error whose message and data blob are `chars` long each; then the call is submitted. */
  async function callAnsweredWithRpcError(callId: string, code: number, chars: number): Promise<void> {
    suite.h.proxies.edge!.inject({
      match: 'tools/call',
      times: 1,
      action: { kind: 'respond', body: jsonRpcReply({ error: { code, message: 'm'.repeat(chars), data: { blob: 'd'.repeat(chars) } } }) },
    });
    await suite.h.js.publish(suite.h.names.submit('edge'), JSON.stringify({ callId, tool: 'echo', arguments: { text: 'x' } }), {
      msgID: callId,
    });
  }

  it('a JSON-RPC error of megabytes on tools/call ends failed / upstream_error, cut to limits.maxErrorBytes', async () => {
    const callId = 'huge-error-1';
    await callAnsweredWithRpcError(callId, -32000, 3_000_000);
    // The body (6 MB) is past limits.maxResponseBytes: refused before it is even parsed.
    const r = await result(callId);
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('response_too_large');
    expect(handlerFailures()).toEqual([]);
    await goodCallCompletes();
  });

  it('a JSON-RPC error just under the body cap but past maxErrorBytes is kept cut, with its JSON-RPC code', async () => {
    const callId = 'big-error-1';
    await callAnsweredWithRpcError(callId, -32001, 30_000);
    const r = await result(callId);
    expect(r.error?.code).toBe('upstream_error');
    expect(Buffer.byteLength(JSON.stringify(r.error))).toBeLessThanOrEqual(MAX_ERROR_BYTES);
    expect(r.error?.data).toMatchObject({ jsonrpcCode: -32001, truncated: true });
    expect(handlerFailures()).toEqual([]);
    expect(warnings(callId).length).toBeLessThanOrEqual(2);
  });

  it('a huge error arriving on the resumed stream (joiner) ends the call too', async () => {
    const { callId } = await suite.h.client.submit('edge', 'slow_idempotent', { durationMs: 60_000, steps: 1 });
    suite.h.proxies.edge!.inject({
      match: 'GET',
      times: 1,
      action: {
        kind: 'respond',
        headers: { 'content-type': 'text/event-stream' },
        body: () =>
          `id: e1\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: idOf(callId), error: { code: -32002, message: 'm'.repeat(40_000) } })}\n\n`,
      },
    });
    const r = await result(callId);
    expect(r.error?.code).toBe('upstream_error');
    expect(Buffer.byteLength(JSON.stringify(r.error))).toBeLessThanOrEqual(MAX_ERROR_BYTES);
    expect(handlerFailures()).toEqual([]);
    await goodCallCompletes();
  });
});

describe('protocol edges', () => {
  it('a 404 on tools/list replaces the lost session: the call gets its real answer and later calls work', async () => {
    await goodCallCompletes();
    const session = [...suite.h.proxies.edge!.seen].reverse().find((s) => s.rpc === 'tools/call')!.session!;
    suite.h.proxies.edge!.inject({ match: '*', session, action: { kind: 'status', status: 404 } });
    const { callId } = await suite.h.client.submit('edge', 'no_such_tool', {});
    expect((await result(callId)).error?.code).toBe('unknown_tool');
    await goodCallCompletes();
  });

  it('a gateway 502 after tools/call was passed on: a non-idempotent call ends outcome_unknown and ran once', async () => {
    suite.h.proxies.edge!.inject({ match: 'tools/call', times: 1, action: { kind: 'forward-then-status', status: 502 } });
    const { callId } = await suite.h.client.submit('edge', 'slow', { durationMs: 200, steps: 1 });
    const r = await result(callId);
    expect(r.error?.code).toBe('outcome_unknown');
    await waitFor('the run upstream', () => suite.h.mcp.edge!.stats().executions.slow?.[callId] === 1);
    expect(suite.h.mcp.edge!.stats().executions.slow?.[callId]).toBe(1);
  });

  it('a gateway 504 after tools/call was passed on: an idempotent call is retried and completes', async () => {
    suite.h.proxies.edge!.inject({ match: 'tools/call', times: 1, action: { kind: 'forward-then-status', status: 504 } });
    const { callId } = await suite.h.client.submit('edge', 'echo', { text: 'twice is fine' });
    expect((await result(callId)).status).toBe('completed');
  });

  it('an error with id null answers the request: the call fails at once, not retried', async () => {
    suite.h.proxies.edge!.inject({
      match: 'tools/call',
      times: 1,
      action: { kind: 'respond', body: JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }) },
    });
    const before = suite.h.proxies.edge!.count('tools/call');
    const { callId } = await suite.h.client.submit('edge', 'echo', { text: 'x' });
    const r = await result(callId);
    expect(r.error?.code).toBe('upstream_error');
    expect(r.error?.message).toMatch(/-32700/);
    expect(suite.h.proxies.edge!.count('tools/call') - before).toBe(1);
  });

  it('a Retry-After of a day is cut to limits.maxRetryAfterMs', async () => {
    suite.h.proxies.edge!.inject({
      match: 'tools/call',
      times: 1,
      action: { kind: 'status', status: 429, headers: { 'retry-after': '86400' } },
    });
    const { callId } = await suite.h.client.submit('edge', 'echo', { text: 'later' });
    expect((await result(callId)).status).toBe('completed');
    const retry = (await suite.h.storedEvents(callId)).status.find((s) => s.status === 'queued' && s.detail?.startsWith('retrying'));
    expect(Number(/retrying in (\d+) ms/.exec(retry!.detail!)![1])).toBeLessThanOrEqual(1_000);
  });

  it("a server's SSE retry of ten minutes is honoured within limits.maxRetryAfterMs: the call completes", async () => {
    const { callId } = await suite.h.client.submit('polling', 'slow', { durationMs: 300, steps: 2 });
    expect((await result(callId)).status).toBe('completed');
    expect(((await suite.h.record(callId)) as { retryMs?: number } | undefined)?.retryMs).toBe(600_000);
  });

  it('an SSE retry past 2^53 ms (10^20) leaves the call record readable: the call completes, the retry kept as the largest safe integer', async () => {
    const { callId } = await suite.h.client.submit('absurdRetry', 'slow', { durationMs: 300, steps: 2 });
    const r = await result(callId);
    expect(r.status, JSON.stringify(r.error)).toBe('completed');
    expect(((await suite.h.record(callId)) as { retryMs?: number } | undefined)?.retryMs).toBe(Number.MAX_SAFE_INTEGER);
    expect(handlerFailures()).toEqual([]);
  });

  it('a task pollInterval past 2^53 ms (10^20) leaves the call record readable: the task call completes', async () => {
    const { callId } = await suite.h.client.submit('absurdPoll', 'slow_task', { durationMs: 300, steps: 1, label: 'absurd' });
    // Polled every joiner.pollMaxMs (30 s): a task asking for polls that far apart is not leased to the watcher.
    const r = await suite.h.client.result(callId, { timeoutMs: 90_000 });
    expect(r.status, JSON.stringify(r.error)).toBe('completed');
    expect(r.mode).toBe('task');
    expect((await suite.h.record(callId))?.pollIntervalMs).toBe(Number.MAX_SAFE_INTEGER);
    expect(handlerFailures()).toEqual([]);
  });

  it('an SSE event id that cannot be a Last-Event-ID ends the call protocol_error at once (its POST stream, or its resumed stream), not as unreachable after retries', async () => {
    // FaultProxy: a tools/call stream whose priming id holds a character no HTTP header can carry.
    suite.h.proxies.edge!.inject({
      match: 'tools/call',
      times: 1,
      action: { kind: 'respond', headers: { 'content-type': 'text/event-stream' }, body: 'id: stream-\u20ac-1\ndata: \n\n' },
    });
    const { callId } = await suite.h.client.submit('edge', 'echo', { text: 'x' });
    const r = await result(callId);
    expect(r.error?.code, JSON.stringify(r.error)).toBe('protocol_error');
    expect(r.error?.message).toMatch(/Last-Event-ID/);
    // The real server's stream, resumed by the joiner, then carries an id of 5,000 characters.
    suite.h.proxies.edge!.inject({
      match: 'GET',
      times: 1,
      action: { kind: 'respond', headers: { 'content-type': 'text/event-stream' }, body: `id: ${'i'.repeat(5_000)}\ndata: \n\n` },
    });
    const { callId: resumed } = await suite.h.client.submit('edge', 'slow_idempotent', { durationMs: 60_000, steps: 1 });
    const r2 = await result(resumed);
    expect(r2.error?.code, JSON.stringify(r2.error)).toBe('protocol_error');
    expect(r2.error?.message).toMatch(/5000 characters/);
    expect(handlerFailures()).toEqual([]);
    await goodCallCompletes();
  });

  it('a 409 on the resume GET is not a server failure: more 409s than maxRejoinFailures, and the call completes', async () => {
    const { callId } = await suite.h.client.submit('edge', 'slow_idempotent', { durationMs: 1_500, steps: 1 });
    suite.h.proxies.edge!.inject({ match: 'GET', times: 4, action: { kind: 'status', status: 409 } });
    expect((await result(callId)).status).toBe('completed');
    expect(suite.h.proxies.edge!.count('GET', 'status')).toBeGreaterThanOrEqual(3);
  });

  it('a redirect is not followed (the credentials stay home): redirect_refused, nothing reaches the target', async () => {
    const target = suite.catcher.url;
    suite.h.proxies.moved!.inject({ match: '*', action: { kind: 'status', status: 307, headers: { location: target } } });
    const { callId } = await suite.h.client.submit('moved', 'echo', { text: 'x' });
    const r = await result(callId);
    expect(r.error?.code).toBe('redirect_refused');
    expect(suite.catcher.caught).toEqual([]);
    suite.h.proxies.moved!.clear();
    await goodCallCompletes('moved');
  });

  it('a compressed answer mcpq did not ask for (content-encoding gzip) ends protocol_error naming the encoding, on tools/call and on the resumed stream', async () => {
    // FaultProxy: a proxy that gzips whatever it passes on, whatever the request's accept-encoding.
    suite.h.proxies.edge!.inject({
      match: 'tools/call',
      times: 1,
      action: {
        kind: 'respond',
        headers: { 'content-encoding': 'gzip' },
        body: (rpc) => gzipSync(JSON.stringify({ jsonrpc: '2.0', id: rpc.id, result: { content: [{ type: 'text', text: 'zipped' }] } })),
      },
    });
    const { callId } = await suite.h.client.submit('edge', 'echo', { text: 'x' });
    const r = await result(callId);
    expect(r.error?.code, JSON.stringify(r.error)).toBe('protocol_error');
    expect(r.error?.message).toMatch(/content-encoding "gzip"/);
    suite.h.proxies.edge!.inject({
      match: 'GET',
      times: 1,
      action: {
        kind: 'respond',
        headers: { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' },
        body: gzipSync(
          `id: e1\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'zipped' } })}\n\n`,
        ),
      },
    });
    const { callId: resumed } = await suite.h.client.submit('edge', 'slow_idempotent', { durationMs: 60_000, steps: 1 });
    const r2 = await result(resumed);
    expect(r2.error?.code, JSON.stringify(r2.error)).toBe('protocol_error');
    expect(r2.error?.message).toMatch(/content-encoding "gzip"/);
    expect(handlerFailures()).toEqual([]);
    await goodCallCompletes();
  });

  it('a JSON answer past limits.maxResponseBytes ends response_too_large', async () => {
    suite.h.proxies.edge!.inject({
      match: 'tools/call',
      times: 1,
      action: {
        kind: 'respond',
        body: jsonRpcReply({ result: { content: [{ type: 'text', text: 'z'.repeat(200_000) }] } }),
      },
    });
    const { callId } = await suite.h.client.submit('edge', 'echo', { text: 'x' });
    expect((await result(callId)).error?.code).toBe('response_too_large');
  });

  it('an SSE event of megabytes ends response_too_large', async () => {
    suite.h.proxies.edge!.inject({
      match: 'tools/call',
      times: 1,
      action: { kind: 'respond', headers: { 'content-type': 'text/event-stream' }, body: `data: ${'z'.repeat(2_000_000)}\n\n` },
    });
    const { callId } = await suite.h.client.submit('edge', 'echo', { text: 'x' });
    expect((await result(callId)).error?.code).toBe('response_too_large');
    await goodCallCompletes();
  });

  it('on the resume GET (node:http, not fetch), a huge event or a line that never ends ends response_too_large; the joiner goes on', async () => {
    for (const body of [`id: e1\ndata: ${'x'.repeat(200_000)}\n\n`, `id: e1\ndata: ${'y'.repeat(200_000)}`]) {
      suite.h.proxies.edge!.inject({
        match: 'GET',
        times: 1,
        action: { kind: 'respond', headers: { 'content-type': 'text/event-stream' }, body },
      });
      const { callId } = await suite.h.client.submit('edge', 'slow_idempotent', { durationMs: 60_000, steps: 1 });
      expect((await result(callId)).error?.code).toBe('response_too_large');
      expect(suite.h.proxies.edge!.count('GET', 'respond')).toBeGreaterThanOrEqual(1);
      suite.h.proxies.edge!.clear();
      // A call longer than the answer window: followed by the joiner over a resume GET, to the end.
      const { callId: next } = await suite.h.client.submit('edge', 'slow_idempotent', { durationMs: 1_500, steps: 1 });
      expect((await result(next)).status).toBe('completed');
    }
    expect(handlerFailures()).toEqual([]);
  });

  it('no service restarted or logged an error', () => {
    for (const s of suite.services) {
      expect(s.running).toBe(true);
      expect(s.logs((l) => l.level === 'fatal' || l.level === 'error')).toEqual([]);
    }
  });
});

/**
 * Broken servers and poison payloads (issue 14): every call ends with a
 * specific code, no service loops on it (each failure is logged a bounded
 * number of times), and a good call right after completes.
 * Faults no real server produces on demand come from FaultProxy (a fault
 * injector in front of a real SDK server) and from a credential catcher (a
 * purpose-built HTTP server that only counts what reaches it).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServiceProcess } from '@mcpq/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';

const MAX_ERROR_BYTES = 4_096;
let h: Harness;
let services: ServiceProcess[];
/** CREDENTIAL CATCHER, not an MCP server: counts requests and the Authorization headers that reach it. */
let catcher: Server;
const caught: Array<string | undefined> = [];

beforeAll(async () => {
  catcher = createServer((req, res) => {
    caught.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => catcher.listen(0, '127.0.0.1', r));
  h = await createHarness({
    servers: {
      edge: { proxied: true },
      moved: { proxied: true, settings: { headers: { authorization: 'Bearer redirect-secret-9d1e' } } },
      polling: { closeStreams: true, retryIntervalMs: 600_000 },
    },
    config: {
      limits: { maxErrorBytes: MAX_ERROR_BYTES, maxResponseBytes: 65_536, maxRetryAfterMs: 1_000 },
      joiner: { maxRejoinFailures: 2 },
    },
  });
  services = [await h.start('submitter'), await h.start('joiner')];
});
afterEach(() => {
  for (const p of Object.values(h.proxies)) p.clear();
});
afterAll(async () => {
  await h?.close();
  await new Promise<void>((r) => catcher?.close(() => r()));
});

const idOf = (callId: string, attempt = 1) => `mcpq-${callId}-${attempt}`;
const result = (callId: string) => h.client.result(callId, { timeoutMs: 45_000 });
/** Log lines of every service about a call at warn level or above. */
const warnings = (callId: string) =>
  services.flatMap((s) => s.logs((l) => l.callId === callId && (l.level === 'warn' || l.level === 'error' || l.level === 'fatal')));
const handlerFailures = () => services.flatMap((s) => s.logs((l) => l.msg === 'handler failed; message will be retried'));

async function goodCallCompletes(server = 'edge'): Promise<void> {
  const { callId } = await h.client.submit(server, 'echo', { text: 'still fine' });
  const r = await result(callId);
  expect(r.status, JSON.stringify(r.error)).toBe('completed');
}

describe('sizes, nesting and dead letters that fit', () => {
  it('a submission that grows past the NATS payload limit when escaped gets a dead letter that fits, once', async () => {
    // 450,000 escaped quotes: 900 KB as sent, 1.8 MB once embedded in a dead letter as a JSON string.
    const payload = `{"tool":"echo","arguments":{"text":"${'\\"'.repeat(450_000)}"}}`;
    const ack = await h.js.publish(h.names.submit('edge'), payload);
    const letter = await waitFor('the dead letter', async () => (await h.deadLetters()).find((d) => d.seq === ack.seq), 30_000);
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
    await h.js.publish(h.names.submit('edge'), `{"callId":"${callId}","tool":"echo","arguments":${deep}}`, { msgID: callId });
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
    await h.js.publish(h.names.submit('edge'), `{"callId":"${callId}","tool":"echo","arguments":{"text":"x"},"meta":{"m":${deep}}}`, {
      msgID: callId,
    });
    const r = await result(callId);
    expect(r.error?.code).toBe('arguments_too_deep');
    expect(r.error?.message).toMatch(/meta/);
  });

  it('a nameless submission nested 100,000 levels deep is dead-lettered once', async () => {
    const deep = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
    const ack = await h.js.publish(h.names.submit('edge'), `{"tool":"echo","arguments":${deep}}`);
    const letter = await waitFor('the dead letter', async () => (await h.deadLetters()).find((d) => d.seq === ack.seq), 30_000);
    expect(letter.code).toBe('invalid_request');
    expect(handlerFailures()).toEqual([]);
  });
});

describe('huge server errors', () => {
  it('a JSON-RPC error of megabytes on tools/call ends failed / upstream_error, cut to limits.maxErrorBytes', async () => {
    const callId = 'huge-error-1';
    h.proxies.edge!.inject({
      match: 'tools/call',
      times: 1,
      action: {
        kind: 'respond',
        body: (rpc) =>
          JSON.stringify({
            jsonrpc: '2.0',
            id: rpc.id,
            error: { code: -32000, message: 'm'.repeat(3_000_000), data: { blob: 'd'.repeat(3_000_000) } },
          }),
      },
    });
    await h.js.publish(h.names.submit('edge'), JSON.stringify({ callId, tool: 'echo', arguments: { text: 'x' } }), { msgID: callId });
    // The body (6 MB) is past limits.maxResponseBytes: refused before it is even parsed.
    const r = await result(callId);
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('response_too_large');
    expect(handlerFailures()).toEqual([]);
    await goodCallCompletes();
  });

  it('a JSON-RPC error just under the body cap but past maxErrorBytes is kept cut, with its JSON-RPC code', async () => {
    const callId = 'big-error-1';
    h.proxies.edge!.inject({
      match: 'tools/call',
      times: 1,
      action: {
        kind: 'respond',
        body: (rpc) =>
          JSON.stringify({
            jsonrpc: '2.0',
            id: rpc.id,
            error: { code: -32001, message: 'm'.repeat(30_000), data: { blob: 'd'.repeat(30_000) } },
          }),
      },
    });
    await h.js.publish(h.names.submit('edge'), JSON.stringify({ callId, tool: 'echo', arguments: { text: 'x' } }), { msgID: callId });
    const r = await result(callId);
    expect(r.error?.code).toBe('upstream_error');
    expect(Buffer.byteLength(JSON.stringify(r.error))).toBeLessThanOrEqual(MAX_ERROR_BYTES);
    expect(r.error?.data).toMatchObject({ jsonrpcCode: -32001, truncated: true });
    expect(handlerFailures()).toEqual([]);
    expect(warnings(callId).length).toBeLessThanOrEqual(2);
  });

  it('a huge error arriving on the resumed stream (joiner) ends the call too', async () => {
    const { callId } = await h.client.submit('edge', 'slow_idempotent', { durationMs: 60_000, steps: 1 });
    h.proxies.edge!.inject({
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
    const session = [...h.proxies.edge!.seen].reverse().find((s) => s.rpc === 'tools/call')!.session!;
    h.proxies.edge!.inject({ match: '*', session, action: { kind: 'status', status: 404 } });
    const { callId } = await h.client.submit('edge', 'no_such_tool', {});
    expect((await result(callId)).error?.code).toBe('unknown_tool');
    await goodCallCompletes();
  });

  it('a gateway 502 after tools/call was passed on: a non-idempotent call ends outcome_unknown and ran once', async () => {
    h.proxies.edge!.inject({ match: 'tools/call', times: 1, action: { kind: 'forward-then-status', status: 502 } });
    const { callId } = await h.client.submit('edge', 'slow', { durationMs: 200, steps: 1 });
    const r = await result(callId);
    expect(r.error?.code).toBe('outcome_unknown');
    await waitFor('the run upstream', () => h.mcp.edge!.stats().executions.slow?.[callId] === 1);
    expect(h.mcp.edge!.stats().executions.slow?.[callId]).toBe(1);
  });

  it('a gateway 504 after tools/call was passed on: an idempotent call is retried and completes', async () => {
    h.proxies.edge!.inject({ match: 'tools/call', times: 1, action: { kind: 'forward-then-status', status: 504 } });
    const { callId } = await h.client.submit('edge', 'echo', { text: 'twice is fine' });
    expect((await result(callId)).status).toBe('completed');
  });

  it('an error with id null answers the request: the call fails at once, not retried', async () => {
    h.proxies.edge!.inject({
      match: 'tools/call',
      times: 1,
      action: { kind: 'respond', body: JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }) },
    });
    const before = h.proxies.edge!.count('tools/call');
    const { callId } = await h.client.submit('edge', 'echo', { text: 'x' });
    const r = await result(callId);
    expect(r.error?.code).toBe('upstream_error');
    expect(r.error?.message).toMatch(/-32700/);
    expect(h.proxies.edge!.count('tools/call') - before).toBe(1);
  });

  it('a Retry-After of a day is cut to limits.maxRetryAfterMs', async () => {
    h.proxies.edge!.inject({ match: 'tools/call', times: 1, action: { kind: 'status', status: 429, headers: { 'retry-after': '86400' } } });
    const { callId } = await h.client.submit('edge', 'echo', { text: 'later' });
    expect((await result(callId)).status).toBe('completed');
    const retry = (await h.storedEvents(callId)).status.find((s) => s.status === 'queued' && s.detail?.startsWith('retrying'));
    expect(Number(/retrying in (\d+) ms/.exec(retry!.detail!)![1])).toBeLessThanOrEqual(1_000);
  });

  it("a server's SSE retry of ten minutes is honoured within limits.maxRetryAfterMs: the call completes", async () => {
    const { callId } = await h.client.submit('polling', 'slow', { durationMs: 300, steps: 2 });
    expect((await result(callId)).status).toBe('completed');
    expect(((await h.record(callId)) as { retryMs?: number } | undefined)?.retryMs).toBe(600_000);
  });

  it('a 409 on the resume GET is not a server failure: more 409s than maxRejoinFailures, and the call completes', async () => {
    const { callId } = await h.client.submit('edge', 'slow_idempotent', { durationMs: 1_500, steps: 1 });
    h.proxies.edge!.inject({ match: 'GET', times: 4, action: { kind: 'status', status: 409 } });
    expect((await result(callId)).status).toBe('completed');
    expect(h.proxies.edge!.count('GET', 'status')).toBeGreaterThanOrEqual(3);
  });

  it('a redirect is not followed (the credentials stay home): redirect_refused, nothing reaches the target', async () => {
    const target = `http://127.0.0.1:${(catcher.address() as AddressInfo).port}/mcp`;
    h.proxies.moved!.inject({ match: '*', action: { kind: 'status', status: 307, headers: { location: target } } });
    const { callId } = await h.client.submit('moved', 'echo', { text: 'x' });
    const r = await result(callId);
    expect(r.error?.code).toBe('redirect_refused');
    expect(caught).toEqual([]);
    h.proxies.moved!.clear();
    await goodCallCompletes('moved');
  });

  it('a JSON answer past limits.maxResponseBytes ends response_too_large', async () => {
    h.proxies.edge!.inject({
      match: 'tools/call',
      times: 1,
      action: {
        kind: 'respond',
        body: (rpc) => JSON.stringify({ jsonrpc: '2.0', id: rpc.id, result: { content: [{ type: 'text', text: 'z'.repeat(200_000) }] } }),
      },
    });
    const { callId } = await h.client.submit('edge', 'echo', { text: 'x' });
    expect((await result(callId)).error?.code).toBe('response_too_large');
  });

  it('an SSE event of megabytes ends response_too_large', async () => {
    h.proxies.edge!.inject({
      match: 'tools/call',
      times: 1,
      action: { kind: 'respond', headers: { 'content-type': 'text/event-stream' }, body: `data: ${'z'.repeat(2_000_000)}\n\n` },
    });
    const { callId } = await h.client.submit('edge', 'echo', { text: 'x' });
    expect((await result(callId)).error?.code).toBe('response_too_large');
    await goodCallCompletes();
  });

  it('on the resume GET (node:http, not fetch), a huge event or a line that never ends ends response_too_large; the joiner goes on', async () => {
    for (const body of [`id: e1\ndata: ${'x'.repeat(200_000)}\n\n`, `id: e1\ndata: ${'y'.repeat(200_000)}`]) {
      h.proxies.edge!.inject({
        match: 'GET',
        times: 1,
        action: { kind: 'respond', headers: { 'content-type': 'text/event-stream' }, body },
      });
      const { callId } = await h.client.submit('edge', 'slow_idempotent', { durationMs: 60_000, steps: 1 });
      expect((await result(callId)).error?.code).toBe('response_too_large');
      expect(h.proxies.edge!.count('GET', 'respond')).toBeGreaterThanOrEqual(1);
      h.proxies.edge!.clear();
      // A call longer than the answer window: followed by the joiner over a resume GET, to the end.
      const { callId: next } = await h.client.submit('edge', 'slow_idempotent', { durationMs: 1_500, steps: 1 });
      expect((await result(next)).status).toBe('completed');
    }
    expect(handlerFailures()).toEqual([]);
  });

  it('no service restarted or logged an error', () => {
    for (const s of services) {
      expect(s.running).toBe(true);
      expect(s.logs((l) => l.level === 'fatal' || l.level === 'error')).toEqual([]);
    }
  });
});

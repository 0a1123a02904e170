/**
 * The bounds on what a server sends hold on the 2026-07-28 path too (SDK v2
 * servers of examples/mcp-server-2026, task and hold modes): an answer past
 * limits.maxResponseBytes ends the call `response_too_large`, a redirect is
 * refused, a Retry-After past limits.maxRetryAfterMs is cut — and a good call
 * right after each works. The 2026 path once read answers under a built-in cap
 * instead of the configured one (readCall, the modern follower); these tests
 * set a cap far below that built-in one, so a reader that ignores it fails them.
 * Oversized answers come from the real servers where they can produce them
 * (echo of a long text, a task whose result names a long tag); the rest from
 * FaultProxy (a fault injector in front of the real server) and a credential
 * catcher (a purpose-built HTTP server that only counts what reaches it).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServiceProcess } from '@mcpq/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../helpers/harness.js';

/** The smallest cap the config accepts; the built-in fallback that used to exist was 16 MiB. */
const MAX_RESPONSE_BYTES = 65_536;
const MAX_RETRY_AFTER_MS = 1_000;
/** An echo text whose answer is larger than the cap, while the request stays under limits.maxArgumentsBytes. */
const LONG = 'z'.repeat(100_000);

let h: Harness;
let services: ServiceProcess[];
/** CREDENTIAL CATCHER, not an MCP server: counts the requests that reach it. */
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
      modern: { era: 'modern', proxied: true, settings: { headers: { authorization: 'Bearer modern-secret-4c2a' } } },
      modernHold: { era: 'modern', mode: 'hold', proxied: true },
    },
    config: {
      limits: { maxResponseBytes: MAX_RESPONSE_BYTES, maxRetryAfterMs: MAX_RETRY_AFTER_MS },
      joiner: { pollMinMs: 100, pollMaxMs: 1_000 },
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

const result = (callId: string) => h.client.result(callId, { timeoutMs: 45_000 });
/** The waits the services chose before trying a call again (their retry log lines). */
const retryWaits = (callId: string) =>
  services.flatMap((s) => s.logs((l) => l.callId === callId && typeof l.retryInMs === 'number').map((l) => l.retryInMs as number));
const handlerFailures = () => services.flatMap((s) => s.logs((l) => l.msg === 'handler failed; message will be retried'));

async function goodCallCompletes(server: string): Promise<void> {
  const { callId } = await h.client.submit(server, 'echo', { text: 'still fine' });
  const r = await result(callId);
  expect(r.status, JSON.stringify(r.error)).toBe('completed');
  expect((await h.record(callId))?.protocol).toBe('2026-07-28');
}

describe('the 2026-07-28 path reads answers under limits.maxResponseBytes', () => {
  it('the servers speak 2026-07-28 and answer a good call', async () => {
    await goodCallCompletes('modern');
    await goodCallCompletes('modernHold');
  });

  // Idempotent or not, the server did answer: the call ends with the refusal (not outcome_unknown), and is not run again.
  it.each([
    ['modern', false],
    ['modern', true],
    ['modernHold', false],
    ['modernHold', true],
  ] as const)(
    '%s (idempotent: %s): a tools/call answer past the cap ends response_too_large, the tool ran once',
    async (alias, idempotent) => {
      const { callId } = await h.client.submit(alias, 'echo', { text: LONG }, { idempotent });
      const r = await result(callId);
      expect(r.status).toBe('failed');
      expect(r.error?.code).toBe('response_too_large');
      expect(r.error?.data).toMatchObject({ limit: MAX_RESPONSE_BYTES });
      expect(h.mcp2026[alias]!.stats().executions.echo?.[callId]).toBe(1);
      expect(handlerFailures()).toEqual([]);
      await goodCallCompletes(alias);
    },
  );

  it('a task whose tasks/get answer is past the cap ends response_too_large (read by the joiner)', async () => {
    h.proxies.modern!.inject({
      match: 'tasks/get',
      action: {
        kind: 'respond',
        body: (rpc) => JSON.stringify({ jsonrpc: '2.0', id: rpc.id, result: { padding: 'z'.repeat(200_000) } }),
      },
    });
    const { callId } = await h.client.submit('modern', 'task_slow', { durationMs: 200 });
    const r = await result(callId);
    expect(r.error?.code).toBe('response_too_large');
    expect((await h.record(callId))?.taskId).toBeTruthy();
    expect(h.proxies.modern!.count('tasks/get', 'respond')).toBeGreaterThanOrEqual(1);
    expect(handlerFailures()).toEqual([]);
    await goodCallCompletes('modern');
  });

  it('an SSE event past the cap on tools/call ends response_too_large', async () => {
    h.proxies.modern!.inject({
      match: 'tools/call',
      times: 1,
      action: { kind: 'respond', headers: { 'content-type': 'text/event-stream' }, body: `data: ${'z'.repeat(2_000_000)}\n\n` },
    });
    const { callId } = await h.client.submit('modern', 'echo', { text: 'x' });
    expect((await result(callId)).error?.code).toBe('response_too_large');
    expect(h.proxies.modern!.count('tools/call', 'respond')).toBe(1);
    await goodCallCompletes('modern');
  });

  it('a held call whose SSE event is past the cap ends response_too_large', async () => {
    h.proxies.modernHold!.inject({
      match: 'tools/call',
      times: 1,
      action: { kind: 'respond', headers: { 'content-type': 'text/event-stream' }, body: `data: ${'z'.repeat(2_000_000)}\n\n` },
    });
    const { callId } = await h.client.submit('modernHold', 'echo', { text: 'x' }, { idempotent: true });
    expect((await result(callId)).error?.code).toBe('response_too_large');
    expect(h.proxies.modernHold!.count('tools/call', 'respond')).toBe(1);
    await goodCallCompletes('modernHold');
  });
});

describe('redirects and Retry-After on the 2026-07-28 path', () => {
  it('a redirect on tools/call is not followed: redirect_refused, nothing reaches the target', async () => {
    await goodCallCompletes('modern'); // the era is known: the redirect meets the 2026-07-28 tools/call itself
    const target = `http://127.0.0.1:${(catcher.address() as AddressInfo).port}/mcp`;
    h.proxies.modern!.inject({ match: 'tools/call', action: { kind: 'status', status: 307, headers: { location: target } } });
    const { callId } = await h.client.submit('modern', 'echo', { text: 'x' });
    const r = await result(callId);
    expect(r.error?.code).toBe('redirect_refused');
    expect((await h.record(callId))?.protocol).toBe('2026-07-28');
    expect(h.proxies.modern!.count('tools/call', 'status')).toBeGreaterThanOrEqual(1);
    expect(caught).toEqual([]);
    h.proxies.modern!.clear();
    await goodCallCompletes('modern');
  });

  it('a Retry-After of a day on tools/call is cut to limits.maxRetryAfterMs and the call completes', async () => {
    h.proxies.modern!.inject({
      match: 'tools/call',
      times: 1,
      action: { kind: 'status', status: 429, headers: { 'retry-after': '86400' } },
    });
    const { callId } = await h.client.submit('modern', 'echo', { text: 'later' });
    const r = await result(callId);
    expect(r.status).toBe('completed');
    expect((await h.record(callId))?.protocol).toBe('2026-07-28');
    // The joiner sends 2026-07-28 calls: its retry is logged with the wait it chose.
    const waits = retryWaits(callId);
    expect(waits.length, 'the 429 was retried').toBeGreaterThanOrEqual(1);
    for (const ms of waits) expect(ms).toBeLessThanOrEqual(MAX_RETRY_AFTER_MS);
  });

  it('a Retry-After of a day on tasks/get (a parked task) is cut too, and the task completes', async () => {
    h.proxies.modern!.inject({
      match: 'tasks/get',
      times: 1,
      action: { kind: 'status', status: 503, headers: { 'retry-after': '86400' } },
    });
    const { callId } = await h.client.submit('modern', 'task_slow', { durationMs: 200 });
    const r = await result(callId);
    expect(r.status, JSON.stringify(r.error)).toBe('completed');
    expect(h.proxies.modern!.count('tasks/get', 'status')).toBe(1);
    const waits = retryWaits(callId);
    expect(waits.length, 'the 503 was retried').toBeGreaterThanOrEqual(1);
    for (const ms of waits) expect(ms).toBeLessThanOrEqual(MAX_RETRY_AFTER_MS);
  });

  it('no service restarted or logged an error', () => {
    for (const s of services) {
      expect(s.running).toBe(true);
      expect(s.logs((l) => l.level === 'fatal' || l.level === 'error')).toEqual([]);
    }
  });
});

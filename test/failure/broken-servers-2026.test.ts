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
import { describe, expect, it } from 'vitest';
import { brokenServersSuite, handlerFailuresOf } from '../helpers/broken-servers.js';
import { jsonRpcReply } from '../helpers/fault-proxy.js';

/** The smallest cap the config accepts; the built-in fallback that used to exist was 16 MiB. */
const MAX_RESPONSE_BYTES = 65_536;
const MAX_RETRY_AFTER_MS = 1_000;
/** An echo text whose answer is larger than the cap, while the request stays under limits.maxArgumentsBytes. */
const LONG = 'z'.repeat(100_000);

const suite = brokenServersSuite({
  servers: {
    modern: { era: 'modern', proxied: true, settings: { headers: { authorization: 'Bearer modern-secret-4c2a' } } },
    modernHold: { era: 'modern', mode: 'hold', proxied: true },
    // A real SDK v2 server whose tasks suggest polls 10^20 ms apart.
    modernAbsurdPoll: { era: 'modern', pollIntervalMs: 1e20 },
  },
  config: {
    limits: { maxResponseBytes: MAX_RESPONSE_BYTES, maxRetryAfterMs: MAX_RETRY_AFTER_MS },
    joiner: { pollMinMs: 100, pollMaxMs: 1_000 },
  },
});

const result = (callId: string) => suite.h.client.result(callId, { timeoutMs: 45_000 });
/** The waits the services chose before trying a call again (their retry log lines). */
const retryWaits = (callId: string) =>
  suite.services.flatMap((s) => s.logs((l) => l.callId === callId && typeof l.retryInMs === 'number').map((l) => l.retryInMs as number));
const handlerFailures = () => handlerFailuresOf(suite.services);

async function goodCallCompletes(server: string): Promise<void> {
  const { callId } = await suite.h.client.submit(server, 'echo', { text: 'still fine' });
  const r = await result(callId);
  expect(r.status, JSON.stringify(r.error)).toBe('completed');
  expect((await suite.h.record(callId))?.protocol).toBe('2026-07-28');
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
      const { callId } = await suite.h.client.submit(alias, 'echo', { text: LONG }, { idempotent });
      const r = await result(callId);
      expect(r.status).toBe('failed');
      expect(r.error?.code).toBe('response_too_large');
      expect(r.error?.data).toMatchObject({ limit: MAX_RESPONSE_BYTES });
      expect(suite.h.mcp2026[alias]!.stats().executions.echo?.[callId]).toBe(1);
      expect(handlerFailures()).toEqual([]);
      await goodCallCompletes(alias);
    },
  );

  it('a task whose tasks/get answer is past the cap ends response_too_large (read by the joiner)', async () => {
    suite.h.proxies.modern!.inject({
      match: 'tasks/get',
      action: {
        kind: 'respond',
        body: jsonRpcReply({ result: { padding: 'z'.repeat(200_000) } }),
      },
    });
    const { callId } = await suite.h.client.submit('modern', 'task_slow', { durationMs: 200 });
    const r = await result(callId);
    expect(r.error?.code).toBe('response_too_large');
    expect((await suite.h.record(callId))?.taskId).toBeTruthy();
    expect(suite.h.proxies.modern!.count('tasks/get', 'respond')).toBeGreaterThanOrEqual(1);
    expect(handlerFailures()).toEqual([]);
    await goodCallCompletes('modern');
  });

  it('a task pollIntervalMs past 2^53 (10^20) leaves the call record readable: the task call completes', async () => {
    const { callId } = await suite.h.client.submit('modernAbsurdPoll', 'task_slow', { durationMs: 200 });
    const r = await result(callId);
    expect(r.status, JSON.stringify(r.error)).toBe('completed');
    expect((await suite.h.record(callId))?.pollIntervalMs).toBe(Number.MAX_SAFE_INTEGER);
    expect(handlerFailures()).toEqual([]);
  });

  it('an SSE event past the cap on tools/call ends response_too_large', async () => {
    suite.h.proxies.modern!.inject({
      match: 'tools/call',
      times: 1,
      action: { kind: 'respond', headers: { 'content-type': 'text/event-stream' }, body: `data: ${'z'.repeat(2_000_000)}\n\n` },
    });
    const { callId } = await suite.h.client.submit('modern', 'echo', { text: 'x' });
    expect((await result(callId)).error?.code).toBe('response_too_large');
    expect(suite.h.proxies.modern!.count('tools/call', 'respond')).toBe(1);
    await goodCallCompletes('modern');
  });

  it('a held call whose SSE event is past the cap ends response_too_large', async () => {
    suite.h.proxies.modernHold!.inject({
      match: 'tools/call',
      times: 1,
      action: { kind: 'respond', headers: { 'content-type': 'text/event-stream' }, body: `data: ${'z'.repeat(2_000_000)}\n\n` },
    });
    const { callId } = await suite.h.client.submit('modernHold', 'echo', { text: 'x' }, { idempotent: true });
    expect((await result(callId)).error?.code).toBe('response_too_large');
    expect(suite.h.proxies.modernHold!.count('tools/call', 'respond')).toBe(1);
    await goodCallCompletes('modernHold');
  });
});

describe('redirects and Retry-After on the 2026-07-28 path', () => {
  it('a redirect on tools/call is not followed: redirect_refused, nothing reaches the target', async () => {
    await goodCallCompletes('modern'); // the era is known: the redirect meets the 2026-07-28 tools/call itself
    const target = suite.catcher.url;
    suite.h.proxies.modern!.inject({ match: 'tools/call', action: { kind: 'status', status: 307, headers: { location: target } } });
    const { callId } = await suite.h.client.submit('modern', 'echo', { text: 'x' });
    const r = await result(callId);
    expect(r.error?.code).toBe('redirect_refused');
    expect((await suite.h.record(callId))?.protocol).toBe('2026-07-28');
    expect(suite.h.proxies.modern!.count('tools/call', 'status')).toBeGreaterThanOrEqual(1);
    expect(suite.catcher.caught).toEqual([]);
    suite.h.proxies.modern!.clear();
    await goodCallCompletes('modern');
  });

  it('a Retry-After of a day on tools/call is cut to limits.maxRetryAfterMs and the call completes', async () => {
    suite.h.proxies.modern!.inject({
      match: 'tools/call',
      times: 1,
      action: { kind: 'status', status: 429, headers: { 'retry-after': '86400' } },
    });
    const { callId } = await suite.h.client.submit('modern', 'echo', { text: 'later' });
    const r = await result(callId);
    expect(r.status).toBe('completed');
    expect((await suite.h.record(callId))?.protocol).toBe('2026-07-28');
    // The joiner sends 2026-07-28 calls: its retry is logged with the wait it chose.
    const waits = retryWaits(callId);
    expect(waits.length, 'the 429 was retried').toBeGreaterThanOrEqual(1);
    for (const ms of waits) expect(ms).toBeLessThanOrEqual(MAX_RETRY_AFTER_MS);
  });

  it('a Retry-After of a day on tasks/get (a parked task) is cut too, and the task completes', async () => {
    suite.h.proxies.modern!.inject({
      match: 'tasks/get',
      times: 1,
      action: { kind: 'status', status: 503, headers: { 'retry-after': '86400' } },
    });
    const { callId } = await suite.h.client.submit('modern', 'task_slow', { durationMs: 200 });
    const r = await result(callId);
    expect(r.status, JSON.stringify(r.error)).toBe('completed');
    expect(suite.h.proxies.modern!.count('tasks/get', 'status')).toBe(1);
    const waits = retryWaits(callId);
    expect(waits.length, 'the 503 was retried').toBeGreaterThanOrEqual(1);
    for (const ms of waits) expect(ms).toBeLessThanOrEqual(MAX_RETRY_AFTER_MS);
  });

  it('no service restarted or logged an error', () => {
    for (const s of suite.services) {
      expect(s.running).toBe(true);
      expect(s.logs((l) => l.level === 'fatal' || l.level === 'error')).toEqual([]);
    }
  });
});

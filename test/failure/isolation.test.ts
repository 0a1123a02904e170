/**
 * One hanging server stalls only itself (issue 14): a server that accepts
 * connections and never answers uses its own dispatch budget
 * (`servers.<alias>.maxDispatching`), not the submitter's shared slots, so
 * a healthy server's call completes meanwhile; the hanging server's calls
 * end at their deadline. (The hang is injected by FaultProxy.)
 */
import type { ServiceProcess } from '@mcpq/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
let submitter: ServiceProcess;
beforeAll(async () => {
  h = await createHarness({
    servers: {
      stuck: { proxied: true, settings: { maxDispatching: 1, connectTimeoutMs: 120_000, requestTimeoutMs: 120_000 } },
      healthy: {},
    },
    config: { submitter: { concurrency: 2 } },
  });
  h.proxies.stuck!.inject({ match: '*', action: { kind: 'hang' } });
  submitter = await h.start('submitter');
  await h.start('joiner');
});
afterAll(async () => {
  await h?.close();
});

describe('per-server isolation in the submitter', () => {
  it("a hanging server's calls do not hold the shared slots: a healthy call completes meanwhile, the hanging ones end at their deadline", async () => {
    const stuck = await Promise.all([1, 2, 3, 4].map(() => h.client.submit('stuck', 'echo', { text: 'x' }, { timeoutMs: 8_000 })));
    // Bounded wait far below the hang (120 s): only isolation lets this call through.
    const ok = await h.client.submit('healthy', 'echo', { text: 'fine' });
    expect((await h.client.result(ok.callId, { timeoutMs: 6_000 })).status).toBe('completed');
    for (const { callId } of stuck) {
      const r = await h.client.result(callId, { timeoutMs: 40_000 });
      expect(r.status).toBe('timeout');
    }
    // At most maxDispatching (1) request ever reached the hanging server at once: one initialize.
    expect(h.proxies.stuck!.count('initialize')).toBeLessThanOrEqual(2);
    const warnings = submitter.logs((l) => l.level === 'warn' && stuck.some((s) => s.callId === l.callId));
    expect(warnings.length).toBeLessThanOrEqual(4 * stuck.length);
    const after = await h.client.submit('healthy', 'echo', { text: 'still fine' });
    expect((await h.client.result(after.callId, { timeoutMs: 20_000 })).status).toBe('completed');
  });
});

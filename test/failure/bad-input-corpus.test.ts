/**
 * A corpus of bad submissions and bad server answers. Each yields its
 * specific error — a failed result when it names a usable, unused callId, a
 * dead letter otherwise (cut to fit one NATS message when it must be) — or,
 * for inputs exactly at a limit, a completed call; no service restarts, and
 * a good call right after still completes. Bad server answers come from
 * FaultProxy (a fault injector in front of the real example server, alias
 * `bad`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';
import type { ServiceProcess } from '@mcpq/testkit';
import { cases, CORPUS_LIMITS, runCase } from './bad-input-cases.js';

let h: Harness;
let services: ServiceProcess[];
beforeAll(async () => {
  h = await createHarness({
    servers: { demo: {}, bad: { proxied: true } },
    config: { limits: CORPUS_LIMITS, streams: { duplicateWindowMs: 1_000 } },
  });
  services = [await h.start('submitter'), await h.start('joiner')];
});
afterAll(async () => {
  await h.close();
});

describe('bad-input corpus', () => {
  it(`has at least 80 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(80);
  });

  it.each(cases.map((c, i) => ({ ...c, id: `corpus-${i}` })))('$name', async (c) => {
    if (c.fault) h.proxies.bad!.inject(c.fault(c.id));
    try {
      await runCase(
        {
          js: h.js,
          submitSubject: (server) => h.names.submit(server),
          result: (callId) => h.client.result(callId, { timeoutMs: 20_000 }),
          deadLetters: () => h.deadLetters(),
        },
        c,
        c.id,
      );
    } finally {
      h.proxies.bad!.clear();
    }
  });

  it('a callId already used (after the duplicate window) is dead-lettered and the first call keeps its one result', async () => {
    const { callId } = await h.client.submit('demo', 'echo', { text: 'first' });
    expect((await h.client.result(callId, { timeoutMs: 20_000 })).status).toBe('completed');
    await new Promise((r) => setTimeout(r, 1_200));
    const ack = await h.js.publish(h.names.submit('demo'), JSON.stringify({ callId, tool: 'echo', arguments: { text: 'again' } }), {
      msgID: callId,
    });
    const letter = await waitFor('the dead letter', async () => (await h.deadLetters()).find((d) => d.seq === ack.seq), 20_000);
    expect(letter.code).toBe('duplicate_call_id');
    expect((await h.storedEvents(callId)).results).toHaveLength(1);
  });

  it('no service restarted and a good call still completes', async () => {
    for (const s of services) {
      expect(s.running).toBe(true);
      expect(s.logs((l) => l.level === 'fatal' || l.level === 'error')).toEqual([]);
    }
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 300, steps: 1, label: 'still fine' });
    expect((await h.client.result(callId, { timeoutMs: 20_000 })).status).toBe('completed');
  });
});

/**
 * A held call's record refresh rides out NATS: a hold-mode call quiet for a
 * third of streams.callsTtlMs has its record rewritten (so it does not
 * expire), and that write is one the joiner must not lose. NatsCutProxy, a
 * fault injector in front of the real nats-server, loses the first refresh
 * on its way (`lose`) and cuts the joiner's connection; the joiner reconnects
 * at once and sees only that request time out (5 s, past AckWait). Before, a
 * single try: the held call ended `outcome_unknown` (the tool is not
 * idempotent) while the tool answered. Real SDK v1 and v2 (2026-07-28)
 * servers, both in hold mode.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../helpers/harness.js';
import { NatsCutProxy, type TripRule } from '../helpers/nats-cut-proxy.js';

// streams.callsTtlMs 15 s (the least this config allows: three times its longest quiet time, 5 s):
// a quiet record is refreshed once 5 s old, and one lost refresh (5 s to time out) leaves it alive.
const CONFIG = {
  submitter: { ackWaitMs: 5_000, dispatchTimeoutMs: 5_000 },
  joiner: { idleTimeoutMs: 5_000, pollMaxMs: 5_000, parkLeaseMs: 5_000 },
  limits: { maxRetryAfterMs: 5_000 },
  streams: { callsTtlMs: 15_000 },
};

let h: Harness;
const cutters: NatsCutProxy[] = [];
beforeAll(async () => {
  h = await createHarness({
    servers: {
      // No event store: nothing to rejoin, so a joiner makes the call itself and holds it.
      plain: { eventStore: false, mode: 'hold' },
      modern: { era: 'modern', mode: 'hold' },
    },
    config: CONFIG,
  });
  await h.start('submitter');
});
afterAll(async () => {
  await h.close();
  await Promise.all(cutters.map((c) => c.close()));
});

/** The joiner's first refresh of a held call's record: its second write of attempt 1 before any progress. */
function firstRefresh(): TripRule {
  const prefix = `$KV.${h.names.bucket}.`;
  let writes = 0;
  return (subject, payload) =>
    subject.startsWith(prefix) &&
    payload.includes('"status":"dispatching"') &&
    payload.includes('"attempts":1,') &&
    payload.includes('"progressSeq":0,') &&
    ++writes === 2;
}

describe("a held call's record refresh", () => {
  it.each([
    ['plain', 'slow done: refresh'],
    ['modern', 'slow done after 1 steps'],
  ])('%s: the refresh is lost on its way to NATS: it is written again, the held call ends with the tool answer', async (alias, answer) => {
    const cut = await NatsCutProxy.start(h.nats.url, firstRefresh(), { lose: true });
    cutters.push(cut);
    const joiner = await h.start('joiner', { NATS_URL: cut.url });
    try {
      // Quiet for 8 s: refreshed at about 5 s (lost, asked again at about 10 s), the answer read then.
      const { callId } = await h.client.submit(alias, 'slow', { durationMs: 8_000, steps: 1, label: 'refresh' });
      const result = await h.client.result(callId, { timeoutMs: 40_000 });
      expect(cut.cuts).toBe(1);
      expect(result.status, JSON.stringify(result.error)).toBe('completed');
      expect(result.mode).toBe('hold');
      expect(result.result?.content).toEqual([{ type: 'text', text: answer }]);
      expect(result.attempts).toBe(1);
      expect((await h.storedEvents(callId)).results).toHaveLength(1);
      expect(joiner.logs((l) => l.msg === 'handler failed; message will be retried')).toEqual([]);
    } finally {
      await joiner.stop(5_000);
    }
  });
});

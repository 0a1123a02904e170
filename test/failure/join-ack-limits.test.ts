/**
 * A joiner's JetStream request that takes longer than the join's AckWait
 * (joiner.ackWaitMs, 3 s in tests, 4 s by default): nats.js fails a request
 * whose answer was lost only at its timeout (5 s). NatsCutProxy, a fault
 * injector in front of the real nats-server, cuts the joiner's connection
 * right after (or, `lose`, instead of) passing on one chosen write; the
 * joiner reconnects at once and sees only that request time out.
 *
 * What must hold: the joiner keeps the join while it retries (its heartbeat
 * goes on: the join is not handed to anyone meanwhile), it asks again
 * within its bound, and the call ends with the tool's answer, one result,
 * no progress event twice. A hold-mode call is the sharp case: it cannot be
 * rejoined, so a joiner that gave up on the write lost the answer for good
 * and the redelivered join ended the call `outcome_unknown`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceProcess } from '@mcpq/testkit';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';
import { NatsCutProxy, type CutOptions, type TripRule } from '../helpers/nats-cut-proxy.js';

let h: Harness;
const cutters: NatsCutProxy[] = [];
beforeAll(async () => {
  h = await createHarness({
    servers: {
      // No event store: nothing to rejoin, so a joiner makes the call itself and holds it.
      plain: { eventStore: false, mode: 'hold' },
      demo: { proxied: true },
    },
  });
  await h.start('submitter');
});
afterAll(async () => {
  await h.close();
  await Promise.all(cutters.map((c) => c.close()));
});

/** A joiner whose NATS connection goes through a NatsCutProxy tripping on `trip`; it is the only joiner running. */
async function joinerThrough(trip: TripRule, options: CutOptions = {}): Promise<{ cut: NatsCutProxy; joiner: ServiceProcess }> {
  const cut = await NatsCutProxy.start(h.nats.url, trip, options);
  cutters.push(cut);
  return { cut, joiner: await h.start('joiner', { NATS_URL: cut.url }) };
}

const recordWrite = (status: string): TripRule => {
  const prefix = `$KV.${h.names.bucket}.`;
  return (subject, payload) => subject.startsWith(prefix) && payload.includes(`"status":"${status}"`);
};

/**
 * Runs a hold-mode `slow` call through a joiner tripping `cut` and checks it ended with the tool's
 * answer, ran once, tripped the cut once and has one result; returns its stored events.
 */
async function heldCallAnswered(cut: NatsCutProxy, args: { durationMs: number; steps: number; label: string }) {
  const { callId } = await h.client.submit('plain', 'slow', args);
  const result = await h.client.result(callId, { timeoutMs: 40_000 });
  expect(cut.cuts).toBe(1);
  expect(result.status).toBe('completed');
  expect(result.result?.content).toEqual([{ type: 'text', text: `slow done: ${args.label}` }]);
  expect(result.attempts).toBe(1);
  expect(h.mcp.plain!.stats().executions.slow?.[callId]).toBe(1);
  const stored = await h.storedEvents(callId);
  expect(stored.results).toHaveLength(1);
  return { callId, stored };
}

describe('a joiner request outlasting AckWait', () => {
  it('hold mode, the answer to a progress publish is lost: the call still ends with the tool answer, each event once', async () => {
    const progressOf = `${h.config.prefix}.call.`;
    const { cut, joiner } = await joinerThrough((subject) => subject.startsWith(progressOf) && subject.endsWith('.progress'));
    try {
      const { stored } = await heldCallAnswered(cut, { durationMs: 1_500, steps: 3, label: 'held' });
      expect(stored.progress.map((p) => p.seq)).toEqual([1, 2, 3]);
      expect(joiner.logs((l) => l.msg === 'handler failed; message will be retried')).toEqual([]);
    } finally {
      await joiner.stop(5_000);
    }
  });

  it('hold mode, the answer to its `running` status is lost: the held call goes on to the tool answer', async () => {
    const statusOf = `${h.config.prefix}.call.`;
    const { cut, joiner } = await joinerThrough(
      (subject, payload) => subject.startsWith(statusOf) && subject.endsWith('.status') && payload.includes('"status":"running"'),
    );
    try {
      const { stored } = await heldCallAnswered(cut, { durationMs: 300, steps: 1, label: 'running' });
      expect(stored.status.filter((s) => s.status === 'running')).toHaveLength(1);
    } finally {
      await joiner.stop(5_000);
    }
  });

  it("hold mode, the call's end is lost on its way to NATS: it is written again, the tool answer is the result", async () => {
    const { cut, joiner } = await joinerThrough(recordWrite('completed'), { lose: true });
    try {
      const { callId } = await heldCallAnswered(cut, { durationMs: 300, steps: 1, label: 'end' });
      const lines = () => joiner.logs((l) => l.callId === callId && l.msg === 'call finished');
      await waitFor('the joiner to log the end', () => lines().length > 0, 10_000);
      expect(lines().map((l) => l.delivery)).toEqual([1]);
    } finally {
      await joiner.stop(5_000);
    }
  });

  it('a join that comes after its deadline, its end lost on the way: the join stays with its joiner, cancelled upstream once', async () => {
    // No joiner runs: the call is handed off and waits in the join queue past its deadline.
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 60_000, steps: 1 }, { timeoutMs: 1_500 });
    await waitFor('the call to be handed to the joiners', async () => (await h.record(callId))?.status === 'dispatched', 10_000);
    const deadline = (await h.record(callId))!.deadline!;
    await waitFor('its deadline to pass', () => Date.now() > deadline + 200, 10_000);

    // The joiner ends it at once when it takes the join (before following anything): cancel upstream, then the end.
    const { cut, joiner } = await joinerThrough(recordWrite('timeout'), { lose: true });
    try {
      const result = await h.client.result(callId, { timeoutMs: 40_000 });
      expect(cut.cuts).toBe(1);
      expect(result.status).toBe('timeout');
      expect((await h.storedEvents(callId)).results).toHaveLength(1);
      const lines = () => joiner.logs((l) => l.callId === callId && /^(call finished|.*letting go)$/.test(l.msg ?? ''));
      await waitFor('the joiner to log how the call ended', () => lines().length > 0, 10_000);
      // One delivery did it all: the join was not handed round while its end was retried.
      expect(lines().map((l) => [l.msg, l.delivery])).toEqual([['call finished', 1]]);
      expect(h.proxies.demo!.count('notifications/cancelled')).toBe(1);
    } finally {
      await joiner.stop(5_000);
    }
  });
});

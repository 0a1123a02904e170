/**
 * Chaos run: 300 calls (short and ~3 s tools, all three modes, a third of
 * them not idempotent) while a random submitter or joiner is SIGKILLed every
 * 1-2 s and replaced, for 30 s, with two of each running. Afterwards every
 * call has exactly one result, no tool that is not idempotent ran twice,
 * every outcome_unknown falls in the life of a killed process, and the work
 * queues are empty.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { ResultEvent } from '@mcpq/shared';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';
import type { ServiceKind, ServiceProcess } from '@mcpq/testkit';

let h: Harness | undefined;
afterAll(async () => {
  await h?.close();
});

/**
 * A sixth of the calls each; two of the six kinds are not idempotent. slow_task is declared
 * idempotent by the request (`idempotent: true`), the others by their tool annotations.
 */
const KINDS = [
  { server: 'resume', tool: 'echo', idempotent: true },
  { server: 'resume', tool: 'slow', idempotent: false },
  { server: 'tasks', tool: 'slow_task', idempotent: true },
  { server: 'hold', tool: 'slow', idempotent: false },
  { server: 'resume', tool: 'slow_idempotent', idempotent: true },
  { server: 'hold', tool: 'echo', idempotent: true },
] as const;

interface Kill {
  kind: ServiceKind;
  pid: number;
  at: number;
}

describe('chaos', () => {
  it('300 calls while submitters and joiners are SIGKILLed every 1-2 s for 30 s', async () => {
    h = await createHarness({ servers: { resume: {}, tasks: { tasks: true, taskPollMs: 300 }, hold: { eventStore: false } } });
    const slots: ServiceProcess[] = [
      await h.start('submitter'),
      await h.start('submitter'),
      await h.start('joiner'),
      await h.start('joiner'),
    ];
    const kills: Kill[] = [];
    const calls: Array<{ callId: string; kind: (typeof KINDS)[number] }> = [];

    const submitting = (async () => {
      for (let i = 0; i < 300; i++) {
        const kind = KINDS[i % KINDS.length]!;
        const args = kind.tool === 'echo' ? { text: `c${i}` } : { durationMs: 3_000, steps: 3, label: `c${i}` };
        const options = kind.tool === 'slow_task' ? { idempotent: true } : {};
        calls.push({ callId: (await h!.client.submit(kind.server, kind.tool, args, options)).callId, kind });
        await new Promise((r) => setTimeout(r, 60)); // spread over ~20 s, so kills hit every phase
      }
    })();

    // At least 30 s and at least 18 kills, however slow the machine is at restarting processes.
    const chaosUntil = Date.now() + 30_000;
    while (Date.now() < chaosUntil || kills.length < 18) {
      await new Promise((r) => setTimeout(r, 1_000 + Math.random() * 1_000));
      const i = Math.floor(Math.random() * slots.length);
      const victim = slots[i]!;
      kills.push({ kind: victim.kind, pid: victim.pid!, at: Date.now() });
      victim.kill('SIGKILL');
      await victim.exited;
      slots[i] = await h.start(victim.kind);
    }
    await submitting;

    const results: ResultEvent[] = await Promise.all(calls.map((c) => h!.client.result(c.callId, { timeoutMs: 180_000 })));
    const byStatus: Record<string, number> = {};
    for (const r of results)
      byStatus[`${r.status}${r.error ? `/${r.error.code}` : ''}`] = (byStatus[`${r.status}${r.error ? `/${r.error.code}` : ''}`] ?? 0) + 1;

    // Exactly one result per call, in the stream.
    for (const c of calls) expect((await h.storedEvents(c.callId)).results).toHaveLength(1);

    // Nothing but completed, outcome_unknown for a call a killed process was in the middle of, or
    // delivery_exhausted for a request every submitter that took it died with (submitter.maxDeliver
    // is a bound, and with a submitter killed every ~3 s a request waiting in one, or handed by
    // nats-server 2.9 to the pull request of a process already dead, can use up its deliveries).
    const unexpected = results.filter(
      (r) => r.status !== 'completed' && r.error?.code !== 'outcome_unknown' && r.error?.code !== 'delivery_exhausted',
    );
    expect(unexpected.map((r) => `${r.callId} ${r.status} ${r.error?.code}: ${r.error?.message}`)).toEqual([]);
    for (const r of results.filter((x) => x.error?.code === 'outcome_unknown')) {
      const kind = calls.find((c) => c.callId === r.callId)!.kind;
      // A hold-mode call is held by a joiner; any other call is sent by a submitter.
      const killer = kind.server === 'hold' ? 'joiner' : 'submitter';
      const during = kills.filter((k) => k.kind === killer && k.at >= Date.parse(r.startedAt) && k.at <= Date.parse(r.finishedAt));
      expect({ callId: r.callId, killsDuring: during.length > 0 }).toEqual({ callId: r.callId, killsDuring: true });
      expect(kind.idempotent).toBe(false);
    }

    for (const r of results.filter((x) => x.error?.code === 'delivery_exhausted')) {
      const during = kills.filter((k) => k.kind === 'submitter' && k.at >= Date.parse(r.startedAt) && k.at <= Date.parse(r.finishedAt));
      expect({ callId: r.callId, submitterKillsDuring: during.length > 0 }).toEqual({ callId: r.callId, submitterKillsDuring: true });
      const dead = await h.deadLetters();
      expect(dead.some((d) => d.callId === r.callId && d.code === 'delivery_exhausted')).toBe(true);
    }

    // No tool that is not idempotent ran twice.
    const executions = { ...h.mcp.resume!.stats().executions, ...h.mcp.tasks!.stats().executions };
    const holdRuns = h.mcp.hold!.stats().executions;
    const twice = calls
      .filter((c) => !c.kind.idempotent)
      .map((c) => ({ callId: c.callId, runs: (c.kind.server === 'hold' ? holdRuns : executions)[c.kind.tool]?.[c.callId] ?? 0 }))
      .filter((x) => x.runs > 1);
    expect(twice).toEqual([]);

    // The work queues are empty: nothing was left behind.
    const jsm = await h.jsm();
    await waitFor(
      'empty work queues',
      async () => {
        const [submit, join] = await Promise.all([jsm.streams.info(h!.names.streams.submit), jsm.streams.info(h!.names.streams.join)]);
        return submit.state.messages === 0 && join.state.messages === 0;
      },
      30_000,
    );

    const reruns = calls
      .filter((c) => c.kind.idempotent)
      .filter((c) => ((c.kind.server === 'hold' ? holdRuns : executions)[c.kind.tool]?.[c.callId] ?? 0) > 1).length;
    console.log(
      JSON.stringify({
        calls: calls.length,
        results: byStatus,
        kills: { submitter: kills.filter((k) => k.kind === 'submitter').length, joiner: kills.filter((k) => k.kind === 'joiner').length },
        idempotentReruns: reruns,
      }),
    );
  }, 400_000);
});

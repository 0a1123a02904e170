/**
 * Scenario 3: two joiners hold K resume-mode calls; one is SIGKILLed. How
 * long until the other follows every call (takeover) and until every call
 * has completed, and the counts: results, events the dedupe dropped when the
 * survivor replayed them, and calls lost (must be 0). Run with the default
 * joiner config (what an operator gets) and with a short AckWait.
 */
import { JoinerConfigSchema } from '@mcpq/shared';
import { Environment } from '../environment.js';

export interface FailoverOptions {
  calls: number;
  /** Must outlast the takeover (about AckWait), or the calls end before anyone takes them over. */
  toolMs: number;
  /** The joiner's AckWait (heartbeat a third of it); undefined: the default config, untouched. */
  ackWaitMs?: number | undefined;
}

export interface FailoverResult {
  calls: number;
  /** The joiner config the run used: `default`, or a short AckWait. */
  config: 'default' | 'short-ackwait';
  ackWaitMs: number;
  heartbeatMs: number;
  /** Calls the killed joiner held. */
  heldByKilled: number;
  /** From the SIGKILL until the survivor followed every call again. */
  takeoverMs: number;
  /** From the SIGKILL until every call had its result. */
  allCompletedMs: number;
  results: number;
  completed: number;
  duplicatesSuppressed: number;
  lost: number;
}

export async function failover(options: FailoverOptions): Promise<FailoverResult> {
  const joiner =
    options.ackWaitMs === undefined ? undefined : { ackWaitMs: options.ackWaitMs, heartbeatMs: Math.floor(options.ackWaitMs / 3) };
  const effective = JoinerConfigSchema.parse(joiner ?? {});
  const env = await Environment.start({ joiners: 2, ...(joiner ? { config: { joiner } } : {}) });
  try {
    const steps = Math.max(1, Math.round(options.toolMs / 1_000));
    const ids: string[] = [];
    for (let i = 0; i < options.calls; i++)
      ids.push((await env.client.submit('bench', 'slow', { durationMs: options.toolMs, steps, label: `f${i}` })).callId);
    const held = async () => Promise.all(env.joiners.map((j) => j.metric('mcpq_calls_held')));
    const deadline = Date.now() + 60_000;
    let counts = await held();
    while (counts.reduce((a, b) => a + b, 0) < options.calls) {
      if (Date.now() > deadline) throw new Error('bench: the joiners never held every call');
      await new Promise((r) => setTimeout(r, 100));
      counts = await held();
    }
    const [a, b] = env.joiners;
    const victim = counts[0]! >= counts[1]! ? a! : b!;
    const survivor = victim === a ? b! : a!;
    const heldByKilled = Math.max(counts[0]!, counts[1]!);
    const results = Promise.all(ids.map((id) => env.client.result(id, { timeoutMs: 120_000 })));
    const t0 = Date.now();
    victim.kill('SIGKILL');
    let takeoverMs = -1;
    void (async () => {
      while (takeoverMs < 0 && Date.now() - t0 < 120_000) {
        if ((await survivor.metric('mcpq_calls_held').catch(() => 0)) >= options.calls) takeoverMs = Date.now() - t0;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const all = await results;
    const allCompletedMs = Date.now() - t0;
    const duplicatesSuppressed = await survivor.metric('mcpq_duplicates_suppressed_total');
    const completed = all.filter((r) => r.status === 'completed').length;
    return {
      calls: options.calls,
      config: joiner ? 'short-ackwait' : 'default',
      ackWaitMs: effective.ackWaitMs,
      heartbeatMs: effective.heartbeatMs,
      heldByKilled,
      takeoverMs,
      allCompletedMs,
      results: all.length,
      completed,
      duplicatesSuppressed,
      lost: options.calls - all.length,
    };
  } finally {
    await env.close();
  }
}

/**
 * Scenario 6 (opt-in, --soak): many short calls through one submitter and
 * one joiner, with the live heap (after a full GC) and RSS of both read every
 * `every` calls, to see whether memory stays flat once warmed up.
 */
import { Environment, liveHeap } from '../environment.js';
import { rssBytes, runConcurrently } from '../measure.js';

export interface SoakOptions {
  calls: number;
  /** Calls between two memory samples. */
  every: number;
  concurrency: number;
}

export interface ServiceMemory {
  heapBytes: number;
  rssBytes: number;
}

export interface SoakSample {
  /** Calls completed when the sample was read (0: after warm-up, before the soak). */
  calls: number;
  submitter: ServiceMemory;
  joiner: ServiceMemory;
  /** Throughput of the calls since the previous sample. */
  callsPerSecond: number;
}

export interface SoakResult {
  calls: number;
  concurrency: number;
  failures: number;
  samples: SoakSample[];
  /** Live heap growth from the second sample (warmed up) to the last, per 10,000 calls. */
  heapGrowthPer10kCalls: { submitter: number; joiner: number };
}

export async function soak(options: SoakOptions, log: (line: string) => void): Promise<SoakResult> {
  const env = await Environment.start({ joiners: 1, nodeArgs: ['--expose-gc'] });
  try {
    const joiner = env.joiners[0]!;
    const submitter = env.submitter;
    const memory = async (svc: typeof joiner): Promise<ServiceMemory> => ({ heapBytes: await liveHeap(svc), rssBytes: rssBytes(svc.pid!) });
    let failures = 0;
    const call = async (i: number) => {
      const { callId } = await env.client.submit('bench', 'echo', { text: `s${i}` });
      const r = await env.client.result(callId, { timeoutMs: 60_000 });
      if (r.status !== 'completed') failures++;
    };
    await env.warm(500);
    const samples: SoakSample[] = [];
    const sample = async (calls: number, callsPerSecond: number) => {
      const s = { calls, submitter: await memory(submitter), joiner: await memory(joiner), callsPerSecond };
      samples.push(s);
      const mb = (n: number) => (n / 1048576).toFixed(1);
      log(
        `  soak ${calls} calls: submitter heap ${mb(s.submitter.heapBytes)} MB, RSS ${mb(s.submitter.rssBytes)} MB; ` +
          `joiner heap ${mb(s.joiner.heapBytes)} MB, RSS ${mb(s.joiner.rssBytes)} MB; ${callsPerSecond} calls/s`,
      );
    };
    await sample(0, 0);
    for (let done = 0; done < options.calls;) {
      const n = Math.min(options.every, options.calls - done);
      const run = await runConcurrently(n, options.concurrency, (i) => call(done + i));
      done += n;
      await sample(done, Math.round(n / run.seconds));
    }
    const growth = (pick: (s: SoakSample) => number) => {
      const from = samples[Math.min(1, samples.length - 1)]!;
      const to = samples.at(-1)!;
      return to.calls > from.calls ? Math.round(((pick(to) - pick(from)) / (to.calls - from.calls)) * 10_000) : 0;
    };
    return {
      calls: options.calls,
      concurrency: options.concurrency,
      failures,
      samples,
      heapGrowthPer10kCalls: { submitter: growth((s) => s.submitter.heapBytes), joiner: growth((s) => s.joiner.heapBytes) },
    };
  } finally {
    await env.close();
  }
}

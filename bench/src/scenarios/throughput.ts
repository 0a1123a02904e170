/**
 * Scenario 1: short calls (the example server's `echo`), N at concurrency 1
 * and 32, through a direct SDK Client over Streamable HTTP, through mcpq end
 * to end (submit, then the result observed by an McpqClient) and, when a
 * Redis answers, through BullMQ (a job whose worker makes the call with the
 * SDK Client). The paths alternate (a b c a b c) so drift of the machine hits
 * all of them. Scenario 4, the NATS cost per call, is read from the server's
 * counters around mcpq's runs.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { BullmqPath } from '../bullmq/path.js';
import type { Environment } from '../environment.js';
import { runConcurrently, summarize, type LatencySummary } from '../measure.js';

export interface ThroughputOptions {
  calls: number;
  concurrencies: number[];
  rounds: number;
  /** The BullMQ path, when a Redis answered. */
  bullmq?: BullmqPath | undefined;
}

/** A path / direct: throughput below 1 means the path is slower; latency above 1 means it takes longer. */
export interface Ratio {
  callsPerSecond: number;
  p50: number;
  p95: number;
  p99: number;
}

export interface ThroughputAt {
  concurrency: number;
  direct: LatencySummary;
  mcpq: LatencySummary;
  /** mcpq / direct. */
  ratio: Ratio;
  /** p50 latency a path adds to the direct client's, in ms. */
  addedP50Ms: { mcpq: number; bullmq?: number };
  mcpqFailures: number;
  directFailures: number;
  bullmq?: LatencySummary;
  /** BullMQ / direct. */
  bullmqRatio?: Ratio;
  bullmqFailures?: number;
}

const r3 = (n: number) => Math.round(n * 1000) / 1000;
const r2 = (n: number) => Math.round(n * 100) / 100;

function ratio(side: LatencySummary, direct: LatencySummary): Ratio {
  return {
    callsPerSecond: r3(side.callsPerSecond / direct.callsPerSecond),
    p50: r3(side.p50Ms / direct.p50Ms),
    p95: r3(side.p95Ms / direct.p95Ms),
    p99: r3(side.p99Ms / direct.p99Ms),
  };
}

export interface NatsCost {
  calls: number;
  msgsInPerCall: number;
  msgsOutPerCall: number;
  bytesInPerCall: number;
  bytesOutPerCall: number;
}

export async function throughput(env: Environment, options: ThroughputOptions): Promise<{ results: ThroughputAt[]; natsCost: NatsCost }> {
  const direct = new Client({ name: 'mcpq-bench-direct', version: '0.1.0' });
  await direct.connect(new StreamableHTTPClientTransport(new URL(env.mcpUrl)));
  let directFailures = 0;
  const viaDirect = async (i: number) => {
    // A call can fail on a kept-alive socket the server closed as it was reused (its keep-alive
    // timeout, reached while the other paths ran): counted, like the other paths' failures, not fatal.
    await direct.callTool({ name: 'echo', arguments: { text: `d${i}` } }).catch(() => directFailures++);
  };
  let failures = 0;
  const viaMcpq = async (i: number) => {
    const { callId } = await env.client.submit('bench', 'echo', { text: `q${i}` });
    const r = await env.client.result(callId, { timeoutMs: 60_000 });
    if (r.status !== 'completed') failures++;
  };
  const bullmq = options.bullmq;
  const viaBullmq = async (i: number) => bullmq!.call('echo', { text: `b${i}` });
  // Warm every path (sessions, JIT, consumers) before anything is measured.
  await runConcurrently(20, 4, viaDirect);
  await runConcurrently(20, 4, viaMcpq);
  if (bullmq) {
    await runConcurrently(20, 4, viaBullmq);
    bullmq.takeFailures();
  }

  const results: ThroughputAt[] = [];
  const traffic = { calls: 0, inMsgs: 0, outMsgs: 0, inBytes: 0, outBytes: 0 };
  for (const concurrency of options.concurrencies) {
    const d = { latencies: [] as number[], seconds: 0 };
    const q = { latencies: [] as number[], seconds: 0 };
    const b = { latencies: [] as number[], seconds: 0 };
    failures = 0;
    directFailures = 0;
    const perRound = Math.max(1, Math.floor(options.calls / options.rounds));
    for (let round = 0; round < options.rounds; round++) {
      const a = await runConcurrently(perRound, concurrency, viaDirect);
      d.latencies.push(...a.latencies);
      d.seconds += a.seconds;
      const before = await env.natsTraffic();
      const c = await runConcurrently(perRound, concurrency, viaMcpq);
      const after = await env.natsTraffic();
      q.latencies.push(...c.latencies);
      q.seconds += c.seconds;
      traffic.calls += perRound;
      traffic.inMsgs += after.inMsgs - before.inMsgs;
      traffic.outMsgs += after.outMsgs - before.outMsgs;
      traffic.inBytes += after.inBytes - before.inBytes;
      traffic.outBytes += after.outBytes - before.outBytes;
      if (bullmq) {
        const e = await runConcurrently(perRound, concurrency, viaBullmq);
        b.latencies.push(...e.latencies);
        b.seconds += e.seconds;
      }
    }
    const ds = summarize(d.latencies, d.seconds);
    const qs = summarize(q.latencies, q.seconds);
    const at: ThroughputAt = {
      concurrency,
      direct: ds,
      mcpq: qs,
      ratio: ratio(qs, ds),
      addedP50Ms: { mcpq: r2(qs.p50Ms - ds.p50Ms) },
      mcpqFailures: failures,
      directFailures,
    };
    if (bullmq) {
      const bs = summarize(b.latencies, b.seconds);
      at.bullmq = bs;
      at.bullmqRatio = ratio(bs, ds);
      at.addedP50Ms.bullmq = r2(bs.p50Ms - ds.p50Ms);
      at.bullmqFailures = bullmq.takeFailures();
    }
    results.push(at);
  }
  await direct.close();
  const per = (n: number) => Math.round((n / traffic.calls) * 10) / 10;
  return {
    results,
    natsCost: {
      calls: traffic.calls,
      msgsInPerCall: per(traffic.inMsgs),
      msgsOutPerCall: per(traffic.outMsgs),
      bytesInPerCall: per(traffic.inBytes),
      bytesOutPerCall: per(traffic.outBytes),
    },
  };
}

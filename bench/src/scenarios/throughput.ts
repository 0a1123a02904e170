/**
 * Scenario 1: short calls (the example server's `echo`), N at concurrency 1
 * and 32, through a direct SDK Client over Streamable HTTP and through mcpq
 * end to end (submit, then the result observed by an McpqClient). The two
 * alternate (a b a b) so drift of the machine hits both. Scenario 4, the
 * NATS cost per call, is read from the server's counters around mcpq's runs.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Environment } from '../environment.js';
import { runConcurrently, summarize, type LatencySummary } from '../measure.js';

export interface ThroughputOptions {
  calls: number;
  concurrencies: number[];
  rounds: number;
}

export interface ThroughputAt {
  concurrency: number;
  direct: LatencySummary;
  mcpq: LatencySummary;
  /** mcpq / direct: throughput below 1 means mcpq is slower; latency above 1 means mcpq takes longer. */
  ratio: { callsPerSecond: number; p50: number; p95: number; p99: number };
  mcpqFailures: number;
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
  const viaDirect = async (i: number) => {
    await direct.callTool({ name: 'echo', arguments: { text: `d${i}` } });
  };
  let failures = 0;
  const viaMcpq = async (i: number) => {
    const { callId } = await env.client.submit('bench', 'echo', { text: `q${i}` });
    const r = await env.client.result(callId, { timeoutMs: 60_000 });
    if (r.status !== 'completed') failures++;
  };
  // Warm both paths (sessions, JIT, consumers) before anything is measured.
  await runConcurrently(20, 4, viaDirect);
  await runConcurrently(20, 4, viaMcpq);

  const results: ThroughputAt[] = [];
  const traffic = { calls: 0, inMsgs: 0, outMsgs: 0, inBytes: 0, outBytes: 0 };
  for (const concurrency of options.concurrencies) {
    const d = { latencies: [] as number[], seconds: 0 };
    const q = { latencies: [] as number[], seconds: 0 };
    failures = 0;
    const perRound = Math.max(1, Math.floor(options.calls / options.rounds));
    for (let round = 0; round < options.rounds; round++) {
      const a = await runConcurrently(perRound, concurrency, viaDirect);
      d.latencies.push(...a.latencies);
      d.seconds += a.seconds;
      const before = await env.natsTraffic();
      const b = await runConcurrently(perRound, concurrency, viaMcpq);
      const after = await env.natsTraffic();
      q.latencies.push(...b.latencies);
      q.seconds += b.seconds;
      traffic.calls += perRound;
      traffic.inMsgs += after.inMsgs - before.inMsgs;
      traffic.outMsgs += after.outMsgs - before.outMsgs;
      traffic.inBytes += after.inBytes - before.inBytes;
      traffic.outBytes += after.outBytes - before.outBytes;
    }
    const ds = summarize(d.latencies, d.seconds);
    const qs = summarize(q.latencies, q.seconds);
    const r2 = (n: number) => Math.round(n * 1000) / 1000;
    results.push({
      concurrency,
      direct: ds,
      mcpq: qs,
      ratio: {
        callsPerSecond: r2(qs.callsPerSecond / ds.callsPerSecond),
        p50: r2(qs.p50Ms / ds.p50Ms),
        p95: r2(qs.p95Ms / ds.p95Ms),
        p99: r2(qs.p99Ms / ds.p99Ms),
      },
      mcpqFailures: failures,
    });
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

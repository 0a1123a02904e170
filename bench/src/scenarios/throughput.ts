/**
 * Scenario 1: short calls (the example server's `echo`), N at concurrency 1
 * and 32, through a direct SDK Client over Streamable HTTP, through mcpq end
 * to end (McpqClient.call: submit, then wait for the result) and, when a
 * Redis answers, through BullMQ (a job whose worker makes the call with the
 * SDK Client). The paths alternate (a b c a b c) so drift of the machine hits
 * all of them. Scenario 4, the NATS cost per call, is read from the server's
 * counters around mcpq's runs.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { readdirSync, readFileSync } from 'node:fs';
import type { BullmqPath } from '../bullmq/path.js';
import type { Environment } from '../environment.js';
import { cpuSeconds, runConcurrently, summarize, type LatencySummary } from '../measure.js';

export interface ThroughputOptions {
  calls: number;
  concurrencies: number[];
  rounds: number;
  /** The BullMQ path, when a Redis answered. */
  bullmq?: BullmqPath | undefined;
  /** The Redis of the BullMQ path (its local process, if any, is counted in BullMQ's CPU). */
  redisUrl?: string | undefined;
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
  /** CPU time each path's processes spent per call, in ms (see CpuPerCall). */
  cpuMsPerCall: { direct: CpuPerCall; mcpq: CpuPerCall; bullmq?: CpuPerCall };
}

/**
 * CPU time per call of each process a path runs on, in ms, and their `total`:
 * `client` is this benchmark process (the direct SDK client, the McpqClient,
 * BullMQ's Queue and QueueEvents), `mcpServer` the example server; mcpq adds
 * `natsServer`, `submitter` and `joiners`, BullMQ its `workers` and `redis`
 * (when a local redis-server's process can be read). With both cores busy,
 * throughput is roughly the inverse of `total`: this says where a path's
 * extra time goes.
 */
export type CpuPerCall = Record<string, number>;

/** The processes of a path, by role (`client` is this process). */
type Processes = Record<string, number[]>;

function cpuNow(processes: Processes): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [role, pids] of Object.entries(processes)) {
    if (role === 'client') {
      const u = process.cpuUsage();
      out[role] = (u.user + u.system) / 1e6;
    } else out[role] = pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  }
  return out;
}

/** Accumulates runs of one path: latencies, seconds, calls and CPU seconds by role. */
class PathRuns {
  readonly latencies: number[] = [];
  seconds = 0;
  private readonly cpu: Record<string, number> = {};

  constructor(private readonly processes: () => Processes) {}

  async run(calls: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
    const processes = this.processes();
    const before = cpuNow(processes);
    const r = await runConcurrently(calls, concurrency, task);
    const after = cpuNow(processes);
    for (const role of Object.keys(after)) this.cpu[role] = (this.cpu[role] ?? 0) + after[role]! - before[role]!;
    this.latencies.push(...r.latencies);
    this.seconds += r.seconds;
  }

  summary(): LatencySummary {
    return summarize(this.latencies, this.seconds);
  }

  cpuMsPerCall(): CpuPerCall {
    const per = (s: number) => Math.round((s / this.latencies.length) * 1e6) / 1e3;
    const out: CpuPerCall = {};
    for (const [role, s] of Object.entries(this.cpu)) out[role] = per(s);
    out.total = per(Object.values(this.cpu).reduce((a, b) => a + b, 0));
    return out;
  }
}

/** The pid of a redis-server on this machine, if one runs and its /proc entry can be read. */
function localRedisPids(redisUrl: string): number[] {
  const host = new URL(redisUrl).hostname;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) return [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'redis-server') return [Number(entry)];
    } catch {
      // gone, or not ours to read
    }
  }
  return [];
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
  // call(): submit and wait, what a caller that wants the result uses (it listens before it
  // submits, so it skips the look at the result subject that result() starts with).
  const viaMcpq = async (i: number) => {
    const r = await env.client.call('bench', 'echo', { text: `q${i}` }, { waitTimeoutMs: 60_000 });
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
  const mcpServer = [env.mcpPid];
  const redis = bullmq && options.redisUrl ? localRedisPids(options.redisUrl) : [];
  for (const concurrency of options.concurrencies) {
    const d = new PathRuns(() => ({ client: [], mcpServer }));
    const q = new PathRuns(() => ({
      client: [],
      natsServer: env.nats.pid === undefined ? [] : [env.nats.pid],
      submitter: [env.submitter.pid!],
      joiners: env.joiners.map((j) => j.pid!),
      mcpServer,
    }));
    const b = new PathRuns(() => ({ client: [], workers: bullmq!.pids, ...(redis.length ? { redis } : {}), mcpServer }));
    failures = 0;
    directFailures = 0;
    const perRound = Math.max(1, Math.floor(options.calls / options.rounds));
    for (let round = 0; round < options.rounds; round++) {
      await d.run(perRound, concurrency, viaDirect);
      const before = await env.natsTraffic();
      await q.run(perRound, concurrency, viaMcpq);
      const after = await env.natsTraffic();
      traffic.calls += perRound;
      traffic.inMsgs += after.inMsgs - before.inMsgs;
      traffic.outMsgs += after.outMsgs - before.outMsgs;
      traffic.inBytes += after.inBytes - before.inBytes;
      traffic.outBytes += after.outBytes - before.outBytes;
      if (bullmq) await b.run(perRound, concurrency, viaBullmq);
    }
    const ds = d.summary();
    const qs = q.summary();
    const at: ThroughputAt = {
      concurrency,
      direct: ds,
      mcpq: qs,
      ratio: ratio(qs, ds),
      addedP50Ms: { mcpq: r2(qs.p50Ms - ds.p50Ms) },
      mcpqFailures: failures,
      directFailures,
      cpuMsPerCall: { direct: d.cpuMsPerCall(), mcpq: q.cpuMsPerCall() },
    };
    if (bullmq) {
      const bs = b.summary();
      at.bullmq = bs;
      at.bullmqRatio = ratio(bs, ds);
      at.addedP50Ms.bullmq = r2(bs.p50Ms - ds.p50Ms);
      at.bullmqFailures = bullmq.takeFailures();
      at.cpuMsPerCall.bullmq = b.cpuMsPerCall();
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

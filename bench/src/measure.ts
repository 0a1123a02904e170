/** Small measuring tools: percentiles, a process's RSS and CPU time from /proc, a bounded wait. */
import { readFileSync } from 'node:fs';

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export interface LatencySummary {
  calls: number;
  seconds: number;
  callsPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

export function summarize(latenciesMs: number[], seconds: number): LatencySummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    calls: sorted.length,
    seconds: round(seconds),
    callsPerSecond: round(sorted.length / seconds),
    p50Ms: round(percentile(sorted, 50)),
    p95Ms: round(percentile(sorted, 95)),
    p99Ms: round(percentile(sorted, 99)),
  };
}

/** Resident set size of a process, in bytes. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** CPU time (user + system) a process has used so far, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] = utime, fields[12] = stime, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU use of each process over `ms`, as a fraction of one core. */
export async function cpuShare(pids: number[], ms: number): Promise<number[]> {
  const before = pids.map(cpuSeconds);
  await new Promise((r) => setTimeout(r, ms));
  return pids.map((pid, i) => Math.round(((cpuSeconds(pid) - before[i]!) / (ms / 1000)) * 1000) / 1000);
}

/** Runs `task` `n` times with at most `concurrency` at once; returns each run's latency in ms. */
export async function runConcurrently(
  n: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        const s = performance.now();
        await task(i);
        latencies.push(performance.now() - s);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - t0) / 1000 };
}

/** Polls `check` every 250 ms until it holds; throws after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The largest value `read` gives over `ms`, read every 200 ms. A read that fails (a service too
 * busy to answer its /metrics in time) is skipped, not fatal: the figure is a sample's maximum.
 */
export async function sampleMax(read: () => Promise<number>, ms: number): Promise<number> {
  let max = 0;
  const until = Date.now() + ms;
  while (Date.now() < until) {
    max = Math.max(max, await read().catch(() => 0));
    await new Promise((r) => setTimeout(r, 200));
  }
  return max;
}

/**
 * Scenario 2: M long calls held at once, and what holding them costs (RSS,
 * live heap, CPU): mcpq's joiners in resume mode (one held stream per call)
 * next to a direct SDK client holding the same M calls. Task mode, where a
 * call is parked between polls rather than held, is scenario 5 (parked.ts).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Environment } from '../environment.js';
import { cpuShare, rssBytes, sampleMax, waitUntil } from '../measure.js';

export interface InflightOptions {
  calls: number;
  toolMs: number;
  /** How long CPU is sampled once all calls wait. */
  sampleMs: number;
}

export interface HolderCost {
  calls: number;
  /** Processes measured: the joiners, or the one direct client. */
  processes: number;
  rssIdleBytes: number;
  rssLoadedBytes: number;
  bytesPerCall: number;
  /** CPU while waiting, in cores (summed over the processes). */
  cpuCores: number;
  /** Most calls the joiners reported holding at once while sampled. */
  heldMax?: number;
  /** Live JS heap (after a full GC), before and while holding. */
  heapIdleBytes?: number;
  heapLoadedBytes?: number;
  heapBytesPerCall?: number;
}

async function viaMcpq(options: InflightOptions): Promise<HolderCost> {
  const env = await Environment.start({
    joiners: 2,
    nodeArgs: ['--expose-gc'],
    config: { joiner: { idleTimeoutMs: options.toolMs * 2, maxInFlight: options.calls } },
  });
  try {
    const pids = env.joiners.map((j) => j.pid!);
    await env.warm();
    await env.warmHeld();
    await new Promise((r) => setTimeout(r, 1_000));
    const heapIdle = await env.joinersHeap();
    const rssIdle = pids.map(rssBytes).reduce((a, b) => a + b, 0);
    const steps = Math.max(1, Math.round(options.toolMs / 10_000));
    for (let i = 0; i < options.calls; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, options.calls - i) }, (_, k) =>
          env.client.submit('bench', 'slow', { durationMs: options.toolMs, steps, label: `w${i + k}` }),
        ),
      );
    }
    // The first calls end after toolMs: past that, waiting for all of them to be held is pointless (use --inflight-ms).
    await waitUntil(
      `${options.calls} held streams`,
      async () => (await env.joinersMetric('mcpq_calls_held')) >= options.calls,
      Math.max(10_000, options.toolMs - 5_000),
    );
    const [cpu, heldMax] = await Promise.all([
      cpuShare(pids, options.sampleMs),
      sampleMax(() => env.joinersMetric('mcpq_calls_held'), options.sampleMs),
    ]);
    const rssLoaded = pids.map(rssBytes).reduce((a, b) => a + b, 0);
    const heapLoaded = await env.joinersHeap();
    return {
      calls: options.calls,
      processes: pids.length,
      rssIdleBytes: rssIdle,
      rssLoadedBytes: rssLoaded,
      bytesPerCall: Math.round((rssLoaded - rssIdle) / options.calls),
      cpuCores: Math.round(cpu.reduce((a, b) => a + b, 0) * 1000) / 1000,
      heldMax,
      heapIdleBytes: heapIdle,
      heapLoadedBytes: heapLoaded,
      heapBytesPerCall: Math.round((heapLoaded - heapIdle) / options.calls),
    };
  } finally {
    await env.close();
  }
}

async function viaDirectClient(options: InflightOptions): Promise<HolderCost> {
  const env = await Environment.start({ joiners: 0 });
  const holder = spawn(
    process.execPath,
    [
      '--expose-gc',
      fileURLToPath(new URL('../direct-holder.js', import.meta.url)),
      env.mcpUrl,
      String(options.calls),
      String(options.toolMs),
    ],
    {
      stdio: ['pipe', 'pipe', 'ignore'],
    },
  );
  try {
    const lines: string[] = [];
    holder.stdout!.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
    const heap = async () => {
      const before = lines.length;
      holder.stdin!.write('heap\n');
      await waitUntil('the heap figure', async () => lines.slice(before).some((l) => l.startsWith('heap ')), 10_000);
      return Number(
        lines
          .slice(before)
          .find((l) => l.startsWith('heap '))!
          .slice(5),
      );
    };
    await waitUntil('the direct client to connect', async () => lines.includes('connected'), 20_000);
    const heapIdle = await heap();
    const rssIdle = rssBytes(holder.pid!);
    holder.stdin!.write('go\n');
    await waitUntil('the direct client to send every call', async () => lines.includes('holding'), 60_000);
    // Until every call runs upstream, the client still works through its sends.
    await waitUntil(
      'every call running upstream',
      async () => {
        const stats = (await (await fetch(env.mcpUrl.replace('/mcp', '/stats'))).json()) as { started: number };
        return stats.started >= options.calls;
      },
      120_000,
    );
    const [cpu] = await cpuShare([holder.pid!], options.sampleMs);
    const rssLoaded = rssBytes(holder.pid!);
    const heapLoaded = await heap();
    return {
      calls: options.calls,
      processes: 1,
      rssIdleBytes: rssIdle,
      rssLoadedBytes: rssLoaded,
      bytesPerCall: Math.round((rssLoaded - rssIdle) / options.calls),
      cpuCores: cpu!,
      heapIdleBytes: heapIdle,
      heapLoadedBytes: heapLoaded,
      heapBytesPerCall: Math.round((heapLoaded - heapIdle) / options.calls),
    };
  } finally {
    holder.kill('SIGKILL');
    await env.close();
  }
}

export async function inflight(options: InflightOptions): Promise<{ resume: HolderCost; direct: HolderCost }> {
  const resume = await viaMcpq(options);
  const direct = await viaDirectClient(options);
  return { resume, direct };
}

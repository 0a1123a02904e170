/**
 * Scenario 2: M long calls waiting at once (the tool sleeps 60 s with
 * progress every 10 s). What holding them costs each joiner — RSS and CPU —
 * in task mode (calls parked between polls) and in resume mode (one held
 * stream per call), next to a direct SDK client holding the same M calls.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Environment } from '../environment.js';
import { cpuShare, rssBytes } from '../measure.js';

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
  /** Most calls the joiners reported holding at once while sampled (task mode: only polls under way). */
  heldMax?: number;
  /** Live JS heap (after a full GC), before and while holding. */
  heapIdleBytes?: number;
  heapLoadedBytes?: number;
  heapBytesPerCall?: number;
}

const waitUntil = async (what: string, check: () => Promise<boolean>, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
};

/** Live heap of the joiners after a full GC (their /debug/heap, available under --expose-gc). */
async function liveHeap(env: Environment): Promise<number> {
  const heaps = await Promise.all(
    env.joiners.map(async (j) => (JSON.parse((await j.http('/debug/heap')).body) as { usedHeapBytes: number }).usedHeapBytes),
  );
  return heaps.reduce((a, b) => a + b, 0);
}

async function sumMetric(env: Environment, name: string): Promise<number> {
  return (await Promise.all(env.joiners.map((j) => j.metric(name)))).reduce((a, b) => a + b, 0);
}

async function viaMcpq(mode: 'resume' | 'task', options: InflightOptions): Promise<HolderCost> {
  const env = await Environment.start({
    joiners: 2,
    nodeArgs: ['--expose-gc'],
    taskPollMs: 5_000,
    config: { joiner: { idleTimeoutMs: options.toolMs * 2, pollMinMs: 1_000, maxInFlight: options.calls } },
  });
  try {
    const pids = env.joiners.map((j) => j.pid!);
    // Warm the joiners' code paths first, so the baseline is a process that has worked, not a fresh one.
    for (let i = 0; i < 100; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, (_, k) =>
          env.client.submit('bench', 'echo', { text: `warm${i + k}` }).then((r) => env.client.result(r.callId, { timeoutMs: 30_000 })),
        ),
      );
    }
    await new Promise((r) => setTimeout(r, 1_000));
    const heapIdle = await liveHeap(env);
    const rssIdle = pids.map(rssBytes).reduce((a, b) => a + b, 0);
    const tool = mode === 'task' ? 'slow_task' : 'slow';
    const steps = Math.max(1, Math.round(options.toolMs / 10_000));
    for (let i = 0; i < options.calls; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, options.calls - i) }, (_, k) =>
          env.client.submit('bench', tool, { durationMs: options.toolMs, steps, label: `w${i + k}` }),
        ),
      );
    }
    if (mode === 'resume') {
      await waitUntil(`${options.calls} held streams`, async () => (await sumMetric(env, 'mcpq_calls_held')) >= options.calls, 120_000);
    } else {
      await waitUntil(
        `${options.calls} tasks dispatched`,
        async () => (await env.submitter.metric('mcpq_calls_dispatched_total')) >= options.calls,
        120_000,
      );
      await waitUntil('every task polled once', async () => (await sumMetric(env, 'mcpq_calls_parked_total')) >= options.calls, 60_000);
    }
    let heldMax = 0;
    const sampling = (async () => {
      const until = Date.now() + options.sampleMs;
      while (Date.now() < until) {
        heldMax = Math.max(heldMax, await sumMetric(env, 'mcpq_calls_held'));
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const cpu = await cpuShare(pids, options.sampleMs);
    await sampling;
    const rssLoaded = pids.map(rssBytes).reduce((a, b) => a + b, 0);
    const heapLoaded = await liveHeap(env);
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

export async function inflight(options: InflightOptions): Promise<{ task: HolderCost; resume: HolderCost; direct: HolderCost }> {
  const task = await viaMcpq('task', options);
  const resume = await viaMcpq('resume', options);
  const direct = await viaDirectClient(options);
  return { task, resume, direct };
}

/**
 * `pnpm bench --quick --json` runs to the end and reports, for every
 * scenario, the figures it promises, as numbers. Nothing here judges the
 * figures themselves: timing is reported by the benchmark, never asserted.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '@mcpq/testkit';

const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

describe('pnpm bench --quick --json', () => {
  it('exits 0 and reports every scenario with numbers', () => {
    // The command as documented; pnpm prints its script banner first, then the JSON document.
    const run = spawnSync('pnpm', ['bench', '--quick', '--json'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 240_000 });
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout.slice(run.stdout.indexOf('\n{') + 1)) as Record<string, any>;
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.machine.natsServer).toMatch(/^\d+\.\d+\.\d+/);

    // Scenario 1: throughput and latency, direct and mcpq, at concurrency 1 and 32, with ratios.
    expect(report.throughput.map((t: { concurrency: number }) => t.concurrency)).toEqual([1, 32]);
    for (const t of report.throughput) {
      for (const side of [t.direct, t.mcpq])
        for (const f of ['callsPerSecond', 'p50Ms', 'p95Ms', 'p99Ms']) expect(isNumber(side[f])).toBe(true);
      for (const f of ['callsPerSecond', 'p50', 'p95', 'p99']) expect(isNumber(t.ratio[f])).toBe(true);
      expect(t.mcpqFailures).toBe(0);
    }
    // Scenario 2: bytes per waiting call in task mode, resume mode and for the direct client.
    for (const mode of ['task', 'resume', 'direct']) {
      for (const f of ['bytesPerCall', 'heapBytesPerCall', 'cpuCores', 'rssLoadedBytes'])
        expect(isNumber(report.inflight[mode][f])).toBe(true);
    }
    expect(report.inflight.task.heldMax).toBeLessThan(report.inflight.task.calls); // parked calls are not held
    // Scenario 3: failover counts; nothing lost.
    for (const f of ['allCompletedMs', 'takeoverMs', 'results', 'duplicatesSuppressed']) expect(isNumber(report.failover[f])).toBe(true);
    expect(report.failover.lost).toBe(0);
    expect(report.failover.completed).toBe(report.failover.calls);
    // Scenario 4: what one call costs NATS.
    for (const f of ['msgsInPerCall', 'msgsOutPerCall', 'bytesInPerCall', 'bytesOutPerCall'])
      expect(isNumber(report.natsCost[f])).toBe(true);
  }, 300_000);
});

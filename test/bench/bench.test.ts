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
    const run = spawnSync('pnpm', ['bench', '--quick', '--json'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 540_000 });
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout.slice(run.stdout.indexOf('\n{') + 1)) as Record<string, any>;
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.machine.natsServer).toMatch(/^\d+\.\d+\.\d+/);

    // Scenario 1: throughput and latency, direct, mcpq and (when a Redis answers) BullMQ, at concurrency 1 and 32, with ratios.
    expect(report.throughput.map((t: { concurrency: number }) => t.concurrency)).toEqual([1, 32]);
    const bullmq = report.bullmq.measured === true;
    if (!bullmq) expect(report.bullmq.skipped).toMatch(/^no Redis answered at /); // skipped, and says why
    for (const t of report.throughput) {
      for (const side of bullmq ? [t.direct, t.mcpq, t.bullmq] : [t.direct, t.mcpq])
        for (const f of ['callsPerSecond', 'p50Ms', 'p95Ms', 'p99Ms']) expect(isNumber(side[f])).toBe(true);
      for (const ratio of bullmq ? [t.ratio, t.bullmqRatio] : [t.ratio])
        for (const f of ['callsPerSecond', 'p50', 'p95', 'p99']) expect(isNumber(ratio[f])).toBe(true);
      expect(isNumber(t.addedP50Ms.mcpq)).toBe(true);
      expect(t.mcpqFailures).toBe(0);
      expect(isNumber(t.directFailures)).toBe(true); // a reused socket the server closed can fail a direct call: counted
      if (bullmq) expect(t.bullmqFailures).toBe(0);
      else expect(t.bullmq).toBeUndefined();
      // CPU per call by process: every mcpq process is read, and the parts add up to the total.
      const cpu = t.cpuMsPerCall;
      expect(Object.keys(cpu.mcpq).sort()).toEqual(['client', 'joiners', 'mcpServer', 'natsServer', 'submitter', 'total']);
      expect(Object.keys(cpu.direct).sort()).toEqual(['client', 'mcpServer', 'total']);
      for (const side of bullmq ? [cpu.direct, cpu.mcpq, cpu.bullmq] : [cpu.direct, cpu.mcpq]) {
        const parts = Object.entries(side).filter(([k]) => k !== 'total');
        expect(parts.every(([, v]) => isNumber(v) && (v as number) >= 0)).toBe(true);
        expect(Math.abs(parts.reduce((a, [, v]) => a + (v as number), 0) - side.total)).toBeLessThan(0.01 * parts.length);
      }
      expect(cpu.mcpq.mcpServer).toBeGreaterThan(0); // the MCP server did the calls' work, and was read
    }
    // Scenario 2: bytes per held call in resume mode and for the direct client.
    for (const side of ['resume', 'direct']) {
      for (const f of ['bytesPerCall', 'heapBytesPerCall', 'cpuCores', 'rssLoadedBytes'])
        expect(isNumber(report.inflight[side][f])).toBe(true);
    }
    // Scenario 5: 1,000 parked task-mode calls: the joiner's cost per call and how soon each result is seen.
    expect(report.parked.map((p: { calls: number }) => p.calls)).toEqual([1000]);
    const [parked] = report.parked;
    expect(parked.error).toBeUndefined();
    for (const f of ['rssBytesPerCall', 'heapBytesPerCall', 'cpuCores', 'windowSeconds', 'noticeP50Ms', 'noticeP99Ms'])
      expect(isNumber(parked[f])).toBe(true);
    expect(parked.windowSeconds).toBeGreaterThan(0);
    expect(parked.heldMax).toBeLessThanOrEqual(parked.calls);
    expect(parked.completed).toBe(parked.calls); // every result seen, every one completed
    expect(parked.noticeP50Ms).toBeGreaterThanOrEqual(0); // seen after the task ended, never before
    // Scenario 3: takeover with the default config; nothing lost.
    const failover = report.failover.default;
    expect(failover.config).toBe('default');
    for (const f of ['allCompletedMs', 'takeoverMs', 'results', 'duplicatesSuppressed']) expect(isNumber(failover[f])).toBe(true);
    expect(failover.takeoverMs).toBeGreaterThan(0); // the survivor did take every call over
    expect(failover.lost).toBe(0);
    expect(failover.completed).toBe(failover.calls);
    // Scenario 4: what one call costs NATS.
    for (const f of ['msgsInPerCall', 'msgsOutPerCall', 'bytesInPerCall', 'bytesOutPerCall'])
      expect(isNumber(report.natsCost[f])).toBe(true);
    // The table: one row per figure, mcpq's a number, BullMQ's a number exactly when it was measured.
    const row = (start: string) =>
      report.table.find((r: { row: string }) => r.row.startsWith(start)) as Record<string, unknown> | undefined;
    const c32 = row('throughput / direct SDK client, concurrency 32')!;
    expect(isNumber(c32.mcpq)).toBe(true);
    expect(isNumber(c32.bullmq)).toBe(bullmq);
    const cpu32 = row('CPU ms per call, all processes, concurrency 32')!;
    expect(cpu32.mcpq).toBe(report.throughput[1].cpuMsPerCall.mcpq.total);
    expect(isNumber(cpu32.direct)).toBe(true);
    for (const start of [
      'added p50 latency, concurrency 1',
      'joiner RSS per parked task-mode call (1,000,', // the task is 25 s unless the machine dispatched too slowly for it
      'joiner CPU while the calls wait (1,000,',
      'live heap per held resume-mode call (200)',
      'takeover after a joiner SIGKILL, default config',
    ])
      expect(isNumber(row(start)?.mcpq)).toBe(true);
  }, 600_000);
});

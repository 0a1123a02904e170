/**
 * The table from one run's report: each row with mcpq's figure, the
 * direct SDK client's and BullMQ's where they exist, and the target. Built
 * from the report only, so `--json` and the printed summary agree.
 */
import type { FailoverResult } from './scenarios/failover.js';
import type { HolderCost } from './scenarios/inflight.js';
import type { ParkedCost } from './scenarios/parked.js';
import type { ThroughputAt } from './scenarios/throughput.js';

export interface TableRow {
  row: string;
  unit: string;
  mcpq: number | null;
  direct: number | null;
  bullmq: number | null;
  target: string;
}

export interface ReportParts {
  throughput?: ThroughputAt[] | undefined;
  parked?: Array<ParkedCost | { calls: number; taskMs: number; error: string }> | undefined;
  inflight?: { resume: HolderCost; direct: HolderCost } | undefined;
  failover?: { default?: FailoverResult | undefined; shortAckWait?: FailoverResult | undefined } | undefined;
}

const kb = (bytes: number | undefined) => (bytes === undefined ? null : Math.round(bytes / 102.4) / 10);

export function buildTable(r: ReportParts): TableRow[] {
  const rows: TableRow[] = [];
  const at = (c: number) => r.throughput?.find((t) => t.concurrency === c);
  for (const c of [32, 1]) {
    const t = at(c);
    if (!t) continue;
    rows.push({
      row: `throughput / direct SDK client, concurrency ${c}`,
      unit: 'ratio',
      mcpq: t.ratio.callsPerSecond,
      direct: 1,
      bullmq: t.bullmqRatio?.callsPerSecond ?? null,
      target: c === 32 ? '>= 0.7' : '>= 0.5',
    });
  }
  for (const c of [1, 32]) {
    const t = at(c);
    if (!t) continue;
    rows.push({
      row: `calls per second, concurrency ${c}`,
      unit: 'calls/s',
      mcpq: t.mcpq.callsPerSecond,
      direct: t.direct.callsPerSecond,
      bullmq: t.bullmq?.callsPerSecond ?? null,
      target: '',
    });
    for (const p of ['p50', 'p99'] as const) {
      const key = `${p}Ms` as const;
      rows.push({
        row: `${p} latency, concurrency ${c}`,
        unit: 'ms',
        mcpq: t.mcpq[key],
        direct: t.direct[key],
        bullmq: t.bullmq?.[key] ?? null,
        target: '',
      });
    }
    rows.push({
      row: `CPU ms per call, all processes, concurrency ${c}`,
      unit: 'ms',
      mcpq: t.cpuMsPerCall.mcpq.total ?? null,
      direct: t.cpuMsPerCall.direct.total ?? null,
      bullmq: t.cpuMsPerCall.bullmq?.total ?? null,
      target: '',
    });
  }
  const one = at(1);
  if (one)
    rows.push({
      row: 'added p50 latency, concurrency 1',
      unit: 'ms',
      mcpq: one.addedP50Ms.mcpq,
      direct: 0,
      bullmq: one.addedP50Ms.bullmq ?? null,
      target: '<= 3',
    });
  for (const p of r.parked ?? []) {
    if ('error' in p) continue;
    const n = `${p.calls.toLocaleString('en-US')}, ${p.taskMs / 1000} s task`;
    rows.push({
      row: `joiner RSS per parked task-mode call (${n})`,
      unit: 'KB',
      mcpq: kb(p.rssBytesPerCall),
      direct: null,
      bullmq: null,
      target: '<= 20',
    });
    rows.push({
      row: `joiner live heap per parked task-mode call (${n})`,
      unit: 'KB',
      mcpq: kb(p.heapBytesPerCall),
      direct: null,
      bullmq: null,
      target: '',
    });
    rows.push({
      row: `joiner CPU while the calls wait (${n})`,
      unit: 'cores',
      mcpq: p.cpuCores,
      direct: null,
      bullmq: null,
      target: p.calls === 1_000 ? '<= 0.15' : '',
    });
    rows.push({
      row: `result seen after the task ends, p50 (${n})`,
      unit: 'ms',
      mcpq: p.noticeP50Ms,
      direct: null,
      bullmq: null,
      target: '',
    });
    rows.push({
      row: `result seen after the task ends, p99 (${n})`,
      unit: 'ms',
      mcpq: p.noticeP99Ms,
      direct: null,
      bullmq: null,
      target: p.calls === 1_000 ? '<= 2000' : '',
    });
  }
  if (r.inflight)
    rows.push({
      row: `live heap per held resume-mode call (${r.inflight.resume.calls.toLocaleString('en-US')})`,
      unit: 'KB',
      mcpq: kb(r.inflight.resume.heapBytesPerCall),
      direct: kb(r.inflight.direct.heapBytesPerCall),
      bullmq: null,
      target: '<= 20',
    });
  const f = r.failover?.default;
  if (f)
    rows.push({
      row: 'takeover after a joiner SIGKILL, default config',
      unit: 's',
      mcpq: f.takeoverMs < 0 ? null : Math.round(f.takeoverMs / 100) / 10,
      direct: null,
      bullmq: null,
      target: '<= 5',
    });
  return rows;
}

/** The table as Markdown (what the summary prints and bench/README.md quotes). */
export function formatTable(rows: TableRow[]): string {
  const cell = (v: number | null) => (v === null ? '—' : String(v));
  return [
    '| | unit | mcpq | direct SDK client | BullMQ + SDK client | target (mcpq) |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.row} | ${r.unit} | ${cell(r.mcpq)} | ${cell(r.direct)} | ${cell(r.bullmq)} | ${r.target} |`),
  ].join('\n');
}

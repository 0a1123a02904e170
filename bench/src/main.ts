#!/usr/bin/env node
/**
 * pnpm bench: how fast and how lean mcpq is, measured side by side with what
 * a user would do without it (a direct SDK client), in one run, as ratios.
 * Prints a summary and writes bench/results/latest.json (--json: the JSON on
 * stdout instead of the summary). Nothing here judges: the numbers are
 * reported, CI does not assert them.
 *
 *   --quick              small sizes (under ~45 s on 2 cores)
 *   --calls N            short calls per concurrency level (scenario 1)
 *   --inflight M         long calls held at once (scenario 2)
 *   --failover K         calls held when a joiner is killed (scenario 3)
 *   --scenarios a,b      any of throughput, inflight, failover (default: all)
 *   --profile            node --cpu-prof of submitter and joiner during scenario 1
 */
import { cpus, totalmem } from 'node:os';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { natsServerBinary, REPO_ROOT } from '@mcpq/testkit';
import { Environment } from './environment.js';
import { hotSpots, type HotSpot } from './profile.js';
import { failover } from './scenarios/failover.js';
import { inflight } from './scenarios/inflight.js';
import { throughput } from './scenarios/throughput.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    calls: { type: 'string' },
    inflight: { type: 'string' },
    failover: { type: 'string' },
    scenarios: { type: 'string', default: 'throughput,inflight,failover' },
    profile: { type: 'boolean', default: false },
  },
});

const quick = values.quick;
const sizes = {
  calls: Number(values.calls ?? (quick ? 60 : 400)),
  inflight: Number(values.inflight ?? (quick ? 200 : 2_000)),
  failover: Number(values.failover ?? (quick ? 40 : 200)),
};
const scenarios = new Set(values.scenarios.split(','));
const log = (line: string) => {
  if (!values.json) process.stdout.write(`${line}\n`);
  else process.stderr.write(`${line}\n`);
};

const started = Date.now();
const report: Record<string, unknown> = {
  date: new Date().toISOString(),
  quick,
  sizes,
  machine: { cores: cpus().length, cpu: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version, natsServer: natsServerVersion() },
};

if (scenarios.has('throughput')) {
  log(`scenario 1: ${sizes.calls} short calls at concurrency 1 and 32, direct SDK client vs mcpq (a b a b)`);
  const profileDir = values.profile ? mkdtempSync(join(tmpdir(), 'mcpq-prof-')) : undefined;
  const env = await Environment.start({ joiners: 2, ...(profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {}) });
  try {
    const t = await throughput(env, { calls: sizes.calls, concurrencies: [1, 32], rounds: 2 });
    report.throughput = t.results;
    report.natsCost = t.natsCost;
  } finally {
    await env.close();
  }
  if (profileDir) {
    const profile: Record<string, HotSpot[]> = {};
    for (const kind of ['submitter', 'joiner']) {
      // node names the files CPU.<date>.<pid>...; split them by the pids of each kind.
      const kindDir = join(profileDir, kind);
      mkdirSync(kindDir, { recursive: true });
      for (const svc of env.services.filter((s) => s.kind === kind)) {
        for (const f of (await import('node:fs')).readdirSync(profileDir).filter((n) => n.includes(`.${svc.pid}.`))) {
          (await import('node:fs')).renameSync(join(profileDir, f), join(kindDir, f));
        }
      }
      profile[kind] = hotSpots(kindDir);
    }
    report.profile = profile;
    rmSync(profileDir, { recursive: true, force: true });
  }
}

if (scenarios.has('inflight')) {
  log(`scenario 2: ${sizes.inflight} long calls waiting at once: task mode, resume mode, direct SDK client`);
  report.inflight = await inflight({ calls: sizes.inflight, toolMs: 60_000, sampleMs: quick ? 3_000 : 5_000 });
}

if (scenarios.has('failover')) {
  log(`scenario 3: two joiners hold ${sizes.failover} calls; one is SIGKILLed`);
  report.failover = await failover({ calls: sizes.failover, toolMs: 12_000, ackWaitMs: 5_000 });
}

report.durationSeconds = Math.round((Date.now() - started) / 1000);
const resultsDir = join(REPO_ROOT, 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);

if (values.json) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  printSummary(report);
}
process.exit(0);

function natsServerVersion(): string {
  const bin = natsServerBinary();
  return bin
    ? execFileSync(bin, ['--version'], { encoding: 'utf8' })
        .trim()
        .replace(/^nats-server: v?/, '')
    : 'unknown';
}

function printSummary(r: Record<string, unknown>): void {
  const m = r.machine as Record<string, unknown>;
  log(`\nmachine: ${m.cores} cores (${m.cpu}), node ${m.node}, nats-server ${m.natsServer}`);
  for (const t of (r.throughput as Array<Record<string, any>> | undefined) ?? []) {
    log(
      `concurrency ${t.concurrency}: direct ${t.direct.callsPerSecond} calls/s (p50 ${t.direct.p50Ms} ms, p99 ${t.direct.p99Ms} ms); ` +
        `mcpq ${t.mcpq.callsPerSecond} calls/s (p50 ${t.mcpq.p50Ms} ms, p99 ${t.mcpq.p99Ms} ms); mcpq/direct throughput ${t.ratio.callsPerSecond}, p50 ${t.ratio.p50}x`,
    );
  }
  const cost = r.natsCost as Record<string, number> | undefined;
  if (cost)
    log(
      `NATS per mcpq call: ${cost.msgsInPerCall} msgs in / ${cost.msgsOutPerCall} out, ${cost.bytesInPerCall} B in / ${cost.bytesOutPerCall} B out`,
    );
  const inf = r.inflight as Record<string, Record<string, number>> | undefined;
  if (inf) {
    for (const [k, v] of Object.entries(inf)) {
      log(
        `in flight (${k}): ${v.calls} calls, RSS ${v.bytesPerCall} B/call${v.heapBytesPerCall !== undefined ? `, heap ${v.heapBytesPerCall} B/call` : ''} over ${v.processes} process(es), CPU ${v.cpuCores} cores${v.heldMax !== undefined ? `, held at most ${v.heldMax}` : ''}`,
      );
    }
  }
  const f = r.failover as Record<string, number> | undefined;
  if (f)
    log(
      `failover: ${f.heldByKilled} of ${f.calls} calls on the killed joiner; the other joiner held them all ${f.takeoverMs} ms after the kill; all completed ${f.allCompletedMs} ms after it (AckWait ${f.ackWaitMs} ms); results ${f.results}, duplicates suppressed ${f.duplicatesSuppressed}, lost ${f.lost}`,
    );
  const p = r.profile as Record<string, HotSpot[]> | undefined;
  if (p)
    for (const [kind, spots] of Object.entries(p))
      log(
        `profile ${kind}: ${spots
          .slice(0, 6)
          .map((s) => `${s.function} ${s.selfPercent}%`)
          .join(', ')}`,
      );
  log(`\n${r.durationSeconds} s; JSON in bench/results/latest.json`);
}

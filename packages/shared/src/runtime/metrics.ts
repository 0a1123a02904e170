/**
 * Prometheus metrics of a service (prom-client), fed by the Telemetry event
 * map plus gauges that read the service's own state when scraped.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { QueueStat, QueueStats } from './queue-stats.js';
import type { Telemetry } from './telemetry.js';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

export interface GaugeSources {
  /** Messages whose handler runs now. */
  inFlight: () => number;
  /** Calls whose stream or request is held in memory now (joiner). */
  held?: () => number;
  /** Calls this joiner parked (join given back with a delay) whose delay has not passed yet (joiner). */
  parked?: () => number;
  /** Parked task-mode calls this joiner's task watcher watches now, by server (joiner). */
  watched?: () => ReadonlyMap<string, number>;
  /** Depth and age of mcpq's work queues (JetStream consumer info, cached and bounded). */
  queues?: QueueStats;
}

/**
 * Label values that come from callers (a server alias in a subject, a tool
 * name in a request) are untrusted: a caller could mint a new time series per
 * call. The first `max` distinct values keep their name; later ones are
 * counted under `_other`.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}

  value(raw: string | undefined): string {
    if (raw === undefined || raw === '') return '';
    if (this.seen.has(raw)) return raw;
    if (this.seen.size >= this.max) return OTHER_LABEL;
    this.seen.add(raw);
    return raw;
  }
}

export const OTHER_LABEL = '_other';
/** Distinct server aliases kept as label values (configured aliases come first in practice). */
const MAX_SERVER_LABELS = 100;
/** Distinct tool names kept as label values, all servers together. */
const MAX_TOOL_LABELS = 500;

export function createMetrics(service: string, telemetry: Telemetry, gauges: GaugeSources): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'mcpq_process_' });

  const server = new BoundedLabel(MAX_SERVER_LABELS);
  const tool = new BoundedLabel(MAX_TOOL_LABELS);
  const finished = new Counter({
    name: 'mcpq_calls_finished_total',
    help: 'Calls whose result this process published, by server, tool, status, mode and error code',
    labelNames: ['server', 'tool', 'status', 'mode', 'code'],
    registers: [registry],
  });
  const toolErrors = new Counter({
    name: 'mcpq_tool_errors_total',
    help: 'Calls that completed with a tool error (result.isError: true), by server and tool',
    labelNames: ['server', 'tool'],
    registers: [registry],
  });
  const dispatched = new Counter({
    name: 'mcpq_calls_dispatched_total',
    help: 'Calls started upstream, by server, tool and mode',
    labelNames: ['server', 'tool', 'mode'],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'mcpq_retries_total',
    help: 'Dispatches and rejoins that failed and will be retried',
    labelNames: ['server', 'stage', 'code'],
    registers: [registry],
  });
  const parked = new Counter({
    name: 'mcpq_calls_parked_total',
    help: 'Times a call was parked (join given back with a delay)',
    labelNames: ['server'],
    registers: [registry],
  });
  const queueWait = new Histogram({
    name: 'mcpq_queue_wait_seconds',
    help: 'How long a message waited in its stream before a process took it (first delivery)',
    labelNames: ['queue', 'server'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const deadLetters = new Counter({
    name: 'mcpq_dead_letters_total',
    help: 'Messages sent to the dead-letter subjects',
    labelNames: ['reason', 'code'],
    registers: [registry],
  });
  const duplicates = new Counter({
    name: 'mcpq_duplicates_suppressed_total',
    help: 'Events JetStream dropped as repeats (status, progress, result)',
    labelNames: ['kind'],
    registers: [registry],
  });
  const upstreamCancels = new Counter({
    name: 'mcpq_upstream_cancels_total',
    help: 'Cancellations passed on to the MCP server, by whether it took them',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const reconnects = new Counter({ name: 'mcpq_nats_reconnects_total', help: 'NATS reconnections', registers: [registry] });
  const dispatchLatency = new Histogram({
    name: 'mcpq_dispatch_seconds',
    help: 'From taking a request to having the call started upstream',
    labelNames: ['server', 'mode'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const rejoinLatency = new Histogram({
    name: 'mcpq_rejoin_seconds',
    help: 'From taking a join to following the call',
    labelNames: ['server', 'mode'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const e2e = new Histogram({
    name: 'mcpq_call_duration_seconds',
    help: 'End to end: from accepting a call to publishing its result',
    labelNames: ['server', 'tool', 'status', 'mode'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: 'mcpq_in_flight',
    help: 'Messages being handled now',
    registers: [registry],
    collect() {
      this.set(gauges.inFlight());
    },
  });
  if (gauges.held) {
    const held = gauges.held;
    new Gauge({
      name: 'mcpq_calls_held',
      help: 'Calls whose stream or request this process holds now (parked calls are not held)',
      registers: [registry],
      collect() {
        this.set(held());
      },
    });
  }

  if (gauges.parked) {
    const parkedNow = gauges.parked;
    new Gauge({
      name: 'mcpq_calls_parked',
      help: 'Calls this joiner parked whose delay has not passed yet (held by no joiner meanwhile)',
      registers: [registry],
      collect() {
        this.set(parkedNow());
      },
    });
  }
  if (gauges.watched) {
    const watched = gauges.watched;
    new Gauge({
      name: 'mcpq_tasks_watched',
      help: "Parked task-mode calls this joiner's task watcher watches now, by server (their joins wait for a wake or their lease)",
      labelNames: ['server'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [alias, n] of watched()) this.set({ server: server.value(alias) }, n);
      },
    });
  }
  const taskPolls = new Counter({
    name: 'mcpq_task_polls_total',
    help: "Task-state requests of a joiner's task watcher (tasks/get, or one page of tasks/list), by server, method and outcome",
    labelNames: ['server', 'method', 'outcome'],
    registers: [registry],
  });
  const taskWakes = new Counter({
    name: 'mcpq_task_wakes_total',
    help: "Parked task-mode calls a joiner's task watcher woke (ended, input, progress, poll_failed, shutdown), by server",
    labelNames: ['server', 'reason'],
    registers: [registry],
  });
  const taskNotifications = new Counter({
    name: 'mcpq_task_notifications_total',
    help: "notifications/tasks/status a joiner's task watcher received, by server and outcome (used: a watched task; unknown: a task not watched; malformed: dropped)",
    labelNames: ['server', 'outcome'],
    registers: [registry],
  });
  const taskCues = new Counter({
    name: 'mcpq_task_status_cues_total',
    help: "Task status cues between joiners (<prefix>.ctl.taskstatus.<server>), by server and outcome (published: passed on from this joiner's stream; used: woke or concerned a watched task; own_stream: a watched task of a session whose stream this joiner holds itself; unknown: a task not watched here; malformed: dropped)",
    labelNames: ['server', 'outcome'],
    registers: [registry],
  });
  const taskStreams = new Counter({
    name: 'mcpq_task_streams_total',
    help: "A joiner's task-watcher notification streams (one per watched session) by server and event: open, down (re-opened after a backoff), refused",
    labelNames: ['server', 'event'],
    registers: [registry],
  });
  if (gauges.queues) addQueueGauges(registry, gauges.queues);

  telemetry.on('call:finished', (e) => {
    const labels = { server: server.value(e.server), tool: tool.value(e.tool), status: e.status, mode: e.mode ?? 'none' };
    finished.inc({ ...labels, code: e.code ?? '' });
    e2e.observe(labels, e.durationMs / 1000);
    if (e.isError) toolErrors.inc({ server: labels.server, tool: labels.tool });
  });
  telemetry.on('call:dispatched', (e) => {
    const s = server.value(e.server);
    dispatched.inc({ server: s, tool: tool.value(e.tool), mode: e.mode });
    dispatchLatency.observe({ server: s, mode: e.mode }, e.latencyMs / 1000);
  });
  telemetry.on('call:rejoined', (e) => rejoinLatency.observe({ server: server.value(e.server), mode: e.mode }, e.latencyMs / 1000));
  telemetry.on('call:retry', (e) => retries.inc({ server: server.value(e.server), stage: e.stage, code: e.code }));
  telemetry.on('call:parked', (e) => parked.inc({ server: server.value(e.server) }));
  telemetry.on('task:poll', (e) => taskPolls.inc({ server: server.value(e.server), method: e.method, outcome: e.ok ? 'ok' : 'failed' }));
  telemetry.on('task:wake', (e) => taskWakes.inc({ server: server.value(e.server), reason: e.reason }));
  telemetry.on('task:notification', (e) => taskNotifications.inc({ server: server.value(e.server), outcome: e.outcome }));
  telemetry.on('task:cue', (e) => taskCues.inc({ server: server.value(e.server), outcome: e.outcome }));
  telemetry.on('task:stream', (e) => taskStreams.inc({ server: server.value(e.server), event: e.event }));
  telemetry.on('queue:taken', (e) => queueWait.observe({ queue: e.queue, server: server.value(e.server) }, Math.max(0, e.waitMs) / 1000));
  telemetry.on('dead-letter', (e) => deadLetters.inc({ reason: e.reason, code: e.code }));
  telemetry.on('nats:reconnect', () => reconnects.inc());
  telemetry.on('call:upstream-cancel', (e) => upstreamCancels.inc({ outcome: e.told ? 'told' : 'not_told' }));
  telemetry.on('event:duplicate', (e) => duplicates.inc({ kind: e.kind }));
  return registry;
}

/**
 * Gauges of the work queues, read from JetStream when scraped. Every gauge
 * awaits the same read (QueueStats shares one read per interval and bounds it).
 */
function addQueueGauges(registry: Registry, queues: QueueStats): void {
  const gauge = (name: string, help: string, pick: (s: QueueStat) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['stream', 'consumer'],
      registers: [registry],
      async collect() {
        const read = await queues.read();
        for (const s of read.stats) this.set({ stream: s.stream, consumer: s.consumer }, pick(s));
      },
    });
  gauge('mcpq_queue_pending', 'Messages waiting undelivered in a work queue', (s) => s.pending);
  gauge(
    'mcpq_queue_ack_pending',
    'Messages delivered and not yet acknowledged (handled, held, or parked until redelivery)',
    (s) => s.ackPending,
  );
  gauge('mcpq_queue_redelivered', 'Unacknowledged messages delivered more than once', (s) => s.redelivered);
  gauge('mcpq_queue_oldest_age_seconds', 'Age of the oldest undelivered message (0 when none waits)', (s) => s.oldestAgeSeconds);
  new Gauge({
    name: 'mcpq_queue_stats_up',
    help: '1 when the last read of this queue from JetStream succeeded, 0 when it failed or timed out',
    labelNames: ['stream', 'consumer'],
    registers: [registry],
    async collect() {
      const read = await queues.read();
      for (const s of read.stats) this.set({ stream: s.stream, consumer: s.consumer }, 1);
      for (const f of read.failed) this.set({ stream: f.stream, consumer: f.consumer }, 0);
    },
  });
}

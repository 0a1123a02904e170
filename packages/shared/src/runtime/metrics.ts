/**
 * Prometheus metrics of a service (prom-client), fed by the Telemetry event
 * map plus gauges that read the service's own state when scraped.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Telemetry } from './telemetry.js';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

export interface GaugeSources {
  /** Messages whose handler runs now. */
  inFlight: () => number;
  /** Calls whose stream or request is held in memory now (joiner). */
  held?: () => number;
}

export function createMetrics(service: string, telemetry: Telemetry, gauges: GaugeSources): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'mcpq_process_' });

  const finished = new Counter({
    name: 'mcpq_calls_finished_total',
    help: 'Calls whose result this process published, by status and mode',
    labelNames: ['status', 'mode', 'code'],
    registers: [registry],
  });
  const dispatched = new Counter({
    name: 'mcpq_calls_dispatched_total',
    help: 'Calls started upstream, by mode',
    labelNames: ['mode'],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'mcpq_retries_total',
    help: 'Dispatches and rejoins that failed and will be retried',
    labelNames: ['stage', 'code'],
    registers: [registry],
  });
  const parked = new Counter({
    name: 'mcpq_calls_parked_total',
    help: 'Times a call was parked (join given back with a delay)',
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
    labelNames: ['mode'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const rejoinLatency = new Histogram({
    name: 'mcpq_rejoin_seconds',
    help: 'From taking a join to following the call',
    labelNames: ['mode'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const e2e = new Histogram({
    name: 'mcpq_call_duration_seconds',
    help: 'End to end: from accepting a call to publishing its result',
    labelNames: ['status', 'mode'],
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

  telemetry.on('call:finished', (e) => {
    finished.inc({ status: e.status, mode: e.mode ?? 'none', code: e.code ?? '' });
    e2e.observe({ status: e.status, mode: e.mode ?? 'none' }, e.durationMs / 1000);
  });
  telemetry.on('call:dispatched', (e) => {
    dispatched.inc({ mode: e.mode });
    dispatchLatency.observe({ mode: e.mode }, e.latencyMs / 1000);
  });
  telemetry.on('call:rejoined', (e) => rejoinLatency.observe({ mode: e.mode }, e.latencyMs / 1000));
  telemetry.on('call:retry', (e) => retries.inc({ stage: e.stage, code: e.code }));
  telemetry.on('call:parked', () => parked.inc());
  telemetry.on('dead-letter', (e) => deadLetters.inc({ reason: e.reason, code: e.code }));
  telemetry.on('nats:reconnect', () => reconnects.inc());
  telemetry.on('call:upstream-cancel', (e) => upstreamCancels.inc({ outcome: e.told ? 'told' : 'not_told' }));
  telemetry.on('event:duplicate', (e) => duplicates.inc({ kind: e.kind }));
  return registry;
}

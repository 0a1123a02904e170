/**
 * What every mcpq service does before its own work: load the config, make a
 * logger, connect to NATS, provision streams, bucket and its consumer.
 */
import { jetstream, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { KV } from '@nats-io/kv';
import { type Config, connectNats, describeError, leaderView, loadConfig, type Names, streamNames } from '@mcpq/contract';
import { CallEvents } from '../calls/events.js';
import { CallStore } from '../calls/store.js';
import { createLogger, type Logger } from '../log.js';
import { provision } from '../nats/provision.js';
import { startHealthServer } from './health.js';
import { createMetrics, type GaugeSources } from './metrics.js';
import { QueueStats } from './queue-stats.js';
import { Telemetry } from './telemetry.js';

export interface ServiceContext {
  config: Config;
  logger: Logger;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  kv: KV;
  store: CallStore;
  events: CallEvents;
  names: Names;
  /** Typed events of what happens to calls; metrics subscribe. */
  telemetry: Telemetry;
}

export interface BootOptions {
  service: 'submitter' | 'joiner' | 'gateway' | 'client';
  consumers?: Array<'submitter' | 'joiner'>;
  /** Config object instead of MCPQ_CONFIG (tests). */
  config?: Config;
  env?: NodeJS.ProcessEnv;
}

export async function bootService(options: BootOptions): Promise<ServiceContext> {
  const config = options.config ?? loadConfig({ env: options.env ?? process.env });
  const logger = createLogger(options.service, { level: config.log.level });
  const nc = await connectNats(config.nats, { name: `mcpq-${options.service}`, logger, ...(options.env ? { env: options.env } : {}) });
  const telemetry = new Telemetry();
  watchConnection(nc, logger, telemetry);
  const { jsm, kv, names } = await provision(nc, config, { consumers: options.consumers ?? [], logger });
  const js = jetstream(nc);
  return {
    config,
    logger,
    nc,
    js,
    jsm,
    kv,
    store: new CallStore(kv, { maxErrorBytes: config.limits.maxErrorBytes, leader: await leaderView(js, names.bucket) }),
    events: new CallEvents(js, names, telemetry),
    names,
    telemetry,
  };
}

/** Logs NATS connection changes (disconnect, reconnect) as they happen. */
function watchConnection(nc: NatsConnection, logger: Logger, telemetry: Telemetry): void {
  void (async () => {
    try {
      for await (const s of nc.status()) {
        if (s.type === 'reconnect') telemetry.emit('nats:reconnect', {});
        if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') {
          logger.warn({ nats: s.type, server: 'server' in s ? s.server : undefined }, `NATS ${s.type}`);
        }
      }
    } catch (err) {
      logger.debug({ err: describeError(err) }, 'NATS status watch ended');
    }
  })();
}

/**
 * Starts /healthz, /readyz and /metrics when `httpPort` is set (0 = off).
 * Returns a function that stops the endpoint.
 */
export async function startObservability(
  ctx: ServiceContext,
  service: string,
  gauges: GaugeSources,
  accepting: () => boolean,
): Promise<() => Promise<void>> {
  const { streams: s, consumers: c } = ctx.names;
  const queues = new QueueStats(ctx.jsm, [
    { stream: s.submit, consumer: c.submitter },
    { stream: s.join, consumer: c.joiner },
  ]);
  const registry = createMetrics(service, ctx.telemetry, { queues, ...gauges });
  if (ctx.config.httpPort === 0) return async () => undefined;
  const server = await startHealthServer({
    port: ctx.config.httpPort,
    nc: ctx.nc,
    jsm: ctx.jsm,
    streams: streamNames(ctx.names),
    registry,
    logger: ctx.logger,
    accepting,
  });
  return () => server.close();
}

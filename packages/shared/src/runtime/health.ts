/**
 * The service's HTTP endpoint (MCPQ_HTTP_PORT): /healthz (the process is
 * up), /readyz (NATS connected and mcpq's streams and bucket answer, checked
 * with a bound) and /metrics (Prometheus). Under node --expose-gc,
 * /debug/heap reports the live heap after a full collection.
 */
import { createServer, type Server } from 'node:http';
import { getHeapStatistics } from 'node:v8';
import type { AddressInfo } from 'node:net';
import type { NatsConnection } from '@nats-io/nats-core';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { Registry } from 'prom-client';
import { describeError } from '@mcpq/contract';
import type { Logger } from '../log.js';

export interface HealthServerOptions {
  port: number;
  nc: NatsConnection;
  jsm: JetStreamManager;
  /** Streams that must answer for the service to be ready (the KV bucket's stream included). */
  streams: string[];
  registry: Registry;
  logger: Logger;
  /** Extra readiness condition, e.g. "not draining". */
  accepting?: () => boolean;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

const READY_CHECK_TIMEOUT_MS = 2_000;

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const ready = async (): Promise<{ ok: boolean; reason?: string }> => {
    if (options.nc.isClosed()) return { ok: false, reason: 'NATS connection closed' };
    if (options.accepting && !options.accepting()) return { ok: false, reason: 'shutting down' };
    try {
      await withTimeout(Promise.all(options.streams.map((s) => options.jsm.streams.info(s))), READY_CHECK_TIMEOUT_MS);
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: describeError(err) };
    }
  };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (path === '/healthz') return send(200, 'application/json', '{"ok":true}');
    if (path === '/readyz') {
      void ready().then((r) => send(r.ok ? 200 : 503, 'application/json', JSON.stringify(r)));
      return;
    }
    if (path === '/metrics') {
      void options.registry.metrics().then(
        (text) => send(200, options.registry.contentType, text),
        (err: unknown) => send(500, 'text/plain', describeError(err)),
      );
      return;
    }
    if (path === '/debug/heap' && typeof globalThis.gc === 'function') {
      // Only with node --expose-gc (the benchmark): the live heap after a full collection.
      globalThis.gc();
      const { used_heap_size } = getHeapStatistics();
      return send(200, 'application/json', JSON.stringify({ usedHeapBytes: used_heap_size, rssBytes: process.memoryUsage.rss() }));
    }
    send(404, 'text/plain', 'not found: /healthz, /readyz, /metrics');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ port }, 'health and metrics on http://0.0.0.0:' + port);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e)),
    );
  });
}

/**
 * One test environment: its own nats-server, example MCP servers (official
 * SDK, Streamable HTTP) in this process, a config file, and submitter and
 * joiner processes started on demand. Each harness uses its own prefix, so
 * even a shared NATS server would not mix tests.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { ConnectionOptions, NatsConnection } from '@nats-io/nats-core';
import { Kvm } from '@nats-io/kv';
import { startExampleServer, type ExampleServer, type ExampleServerOptions } from '@mcpq/example-server';
import { startServer2026, type Server2026 } from '@mcpq/example-server-2026';
import { McpqClient, type CallEvent } from '@mcpq/client';
import type { z } from 'zod';
import {
  CallStore,
  DeadLetterSchema,
  loadConfig,
  names,
  ProgressEventSchema,
  ResultEventSchema,
  ServerConfigSchema,
  StatusEventSchema,
  type CallRecord,
  type Config,
  type ConfigInput,
  type DeadLetter,
  type Names,
  type ProgressEvent,
  type ResultEvent,
  type StatusEvent,
} from '@mcpq/shared';
import { FaultProxy } from './fault-proxy.js';
import { freePort, ServiceProcess, startNatsServer, type NatsServer, type ServiceKind } from '@mcpq/testkit';

export type ServerSpec = ExampleServerOptions & {
  /**
   * Start an SDK v2 server speaking MCP 2026-07-28 instead of the SDK v1
   * example server: `modern` (2026-07-28 only) or `dual` (also 2025-11-25).
   * It is in `Harness.mcp2026`, not `Harness.mcp`.
   */
  era?: 'modern' | 'dual';
  /** 2026 servers: the poll interval their tasks ask for (ms). */
  pollIntervalMs?: number;
  mode?: 'auto' | 'task' | 'resume' | 'hold';
  /** Put a FaultProxy (fault injector) between mcpq and this server. */
  proxied?: boolean;
  /** Config settings of this server besides its url (requestTimeoutMs, maxInFlight, ...). */
  settings?: Partial<z.input<typeof ServerConfigSchema>>;
};

export interface HarnessOptions {
  /** Example MCP servers to start, by alias (default: `demo`, resumable). */
  servers?: Record<string, ServerSpec>;
  /** Config fields merged over the test defaults (per top-level section). */
  config?: ConfigInput;
  /** Allow MCPQ_TEST_NATS_URL (for tests that never kill or restart NATS). */
  allowExternalNats?: boolean;
  /** Use this NATS (e.g. a cluster) instead of starting a server; the harness disposes of it. */
  nats?: NatsServer;
  /** NATS connection options of the test's own client and connection (credentials). */
  clientNatsOptions?: Partial<ConnectionOptions>;
  /** The subject prefix (default: a random one per harness). */
  prefix?: string;
  /** Environment the config's secrets are read from when the harness validates it (the services get theirs at start). */
  configEnv?: NodeJS.ProcessEnv;
}

/** Short timings so failover and retries happen within a test's patience. */
const TEST_DEFAULTS: ConfigInput = {
  submitter: { ackWaitMs: 5_000, maxDeliver: 4, retryBaseMs: 200, retryMaxMs: 2_000, dispatchTimeoutMs: 10_000 },
  joiner: { ackWaitMs: 3_000, heartbeatMs: 1_000, idleTimeoutMs: 10_000, parkDelayMs: 200, retryBaseMs: 200, retryMaxMs: 2_000 },
  log: { level: process.env.MCPQ_TEST_LOG_LEVEL === 'debug' ? 'debug' : 'info' },
};

export interface StoredEvents {
  status: StatusEvent[];
  progress: ProgressEvent[];
  results: ResultEvent[];
}

export class Harness {
  readonly services: ServiceProcess[] = [];
  private counter = 0;

  constructor(
    readonly nats: NatsServer,
    readonly mcp: Record<string, ExampleServer>,
    readonly mcp2026: Record<string, Server2026>,
    readonly proxies: Record<string, FaultProxy>,
    private readonly specs: Record<string, ServerSpec>,
    readonly config: Config,
    readonly configPath: string,
    readonly dir: string,
    readonly nc: NatsConnection,
    readonly client: McpqClient,
  ) {}

  get names(): Names {
    return names(this.config.prefix);
  }

  get js(): JetStreamClient {
    return jetstream(this.nc);
  }

  jsm(): Promise<JetStreamManager> {
    return jetstreamManager(this.nc);
  }

  get env(): NodeJS.ProcessEnv {
    return {
      NATS_URL: this.nats.url,
      MCPQ_CONFIG: this.configPath,
      MCPQ_CONFIG_JSON: '',
      MCPQ_PREFIX: '',
      LOG_LEVEL: '',
      MCPQ_HTTP_PORT: '',
    };
  }

  /** Starts a service process (with its /metrics on a free port) and waits until it runs. */
  async start(kind: ServiceKind, extraEnv: NodeJS.ProcessEnv = {}): Promise<ServiceProcess> {
    const httpPort = await freePort();
    const svc = new ServiceProcess(
      kind,
      `${kind}-${++this.counter}`,
      { ...this.env, MCPQ_HTTP_PORT: String(httpPort), ...extraEnv },
      httpPort,
    );
    this.services.push(svc);
    await svc.ready();
    return svc;
  }

  /** Starts a gateway process on a free port; `url` is its MCP endpoint. */
  async startGateway(extraEnv: NodeJS.ProcessEnv = {}): Promise<{ svc: ServiceProcess; url: string }> {
    const port = await freePort();
    const svc = await this.start('gateway', { MCPQ_GATEWAY_PORT: String(port), ...extraEnv });
    return { svc, url: `http://127.0.0.1:${port}/mcp` };
  }

  /** Restarts an example MCP server on the same port: it forgets every session, task and event. */
  async restartMcp(alias: string, downMs = 0): Promise<void> {
    const old = this.mcp[alias]!;
    await old.close();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    this.mcp[alias] = await startExampleServer({ ...this.specs[alias], port: old.port });
  }

  async record(callId: string): Promise<CallRecord | undefined> {
    const kv = await new Kvm(this.nc).open(this.names.bucket);
    return (await new CallStore(kv).get(callId))?.value;
  }

  /** Everything stored in the events stream for a call, right now (duplicates included, if any got through). */
  async storedEvents(callId: string): Promise<StoredEvents> {
    const out: StoredEvents = { status: [], progress: [], results: [] };
    const consumer = await this.js.consumers.get(this.names.streams.events, {
      filter_subjects: this.names.callEvents(callId),
      deliver_policy: DeliverPolicy.All,
    });
    for (;;) {
      const batch = await consumer.fetch({ max_messages: 500, expires: 1_000 });
      let last = 0;
      let seen = 0;
      for await (const m of batch) {
        seen++;
        last = m.info.pending;
        const kind = this.names.parseCallSubject(m.subject)?.kind;
        const json = m.json();
        if (kind === 'status') out.status.push(StatusEventSchema.parse(json));
        if (kind === 'progress') out.progress.push(ProgressEventSchema.parse(json));
        if (kind === 'result') out.results.push(ResultEventSchema.parse(json));
        if (last === 0) break;
      }
      if (seen === 0 || last === 0) break;
    }
    return out;
  }

  /** Dead letters stored so far (of another prefix served by the same NATS, e.g. a second tenant's, when given). */
  async deadLetters(prefix = this.config.prefix): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    const consumer = await this.js.consumers.get(names(prefix).streams.dlq, { deliver_policy: DeliverPolicy.All });
    const info = await consumer.info(true);
    if (info.num_pending === 0) return out;
    const batch = await consumer.fetch({ max_messages: 1_000, expires: 1_000 });
    for await (const m of batch) {
      out.push(DeadLetterSchema.parse(m.json()));
      if (m.info.pending === 0) break;
    }
    return out;
  }

  /** Collects a call's events through the public client API, until its result. */
  async watch(callId: string, timeoutMs = 60_000): Promise<CallEvent[]> {
    const events: CallEvent[] = [];
    for await (const e of this.client.watch(callId, { timeoutMs })) events.push(e);
    return events;
  }

  async close(): Promise<void> {
    await Promise.all(this.services.map((s) => s.stop(5_000)));
    // MCPQ_TEST_LOGS=<dir> keeps every service's output, for looking into a failure.
    const keep = process.env.MCPQ_TEST_LOGS;
    if (keep) {
      mkdirSync(keep, { recursive: true });
      for (const s of this.services) writeFileSync(join(keep, `${this.config.prefix}-${s.name}.log`), `${s.raw.join('\n')}\n`);
    }
    await this.client.close().catch(() => undefined);
    await this.nc.close().catch(() => undefined);
    await Promise.all(Object.values(this.proxies).map((p) => p.close()));
    await Promise.all(Object.values(this.mcp).map((s) => s.close()));
    await Promise.all(Object.values(this.mcp2026).map((s) => s.close()));
    await this.nats.dispose();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const nats = options.nats ?? (await startNatsServer({ allowExternal: options.allowExternalNats ?? false }));
  const mcp: Record<string, ExampleServer> = {};
  const mcp2026: Record<string, Server2026> = {};
  const proxies: Record<string, FaultProxy> = {};
  try {
    return await assemble(nats, mcp, mcp2026, proxies, options);
  } catch (err) {
    // A harness that could not be built leaves nothing running behind it.
    await Promise.all(Object.values(proxies).map((p) => p.close().catch(() => undefined)));
    await Promise.all(Object.values(mcp).map((s) => s.close().catch(() => undefined)));
    await Promise.all(Object.values(mcp2026).map((s) => s.close().catch(() => undefined)));
    await nats.dispose();
    throw err;
  }
}

async function assemble(
  nats: NatsServer,
  mcp: Record<string, ExampleServer>,
  mcp2026: Record<string, Server2026>,
  proxies: Record<string, FaultProxy>,
  options: HarnessOptions,
): Promise<Harness> {
  const specs = options.servers ?? { demo: {} };
  for (const [alias, spec] of Object.entries(specs)) {
    const url = spec.era
      ? (mcp2026[alias] = await startServer2026({ era: spec.era, ...(spec.pollIntervalMs ? { pollIntervalMs: spec.pollIntervalMs } : {}) }))
          .url
      : (mcp[alias] = await startExampleServer(spec)).url;
    if (spec.proxied) proxies[alias] = await FaultProxy.start(url);
  }
  const prefix = options.prefix ?? `t${randomBytes(4).toString('hex')}`;
  const input: ConfigInput = {
    ...TEST_DEFAULTS,
    ...options.config,
    prefix,
    submitter: { ...TEST_DEFAULTS.submitter, ...options.config?.submitter },
    joiner: { ...TEST_DEFAULTS.joiner, ...options.config?.joiner },
    nats: { servers: nats.url, ...options.config?.nats },
    servers: Object.fromEntries(
      Object.entries(specs).map(([alias, spec]) => [
        alias,
        { url: proxies[alias]?.url ?? (mcp[alias] ?? mcp2026[alias])!.url, ...(spec.mode ? { mode: spec.mode } : {}), ...spec.settings },
      ]),
    ),
  };
  // Servers given in config (not example servers) are added as they are.
  for (const [alias, server] of Object.entries(options.config?.servers ?? {})) input.servers![alias] ??= server;
  const config = loadConfig({ config: input, env: options.configEnv ?? {} });
  const dir = mkdtempSync(join(tmpdir(), 'mcpq-test-'));
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(input, null, 2));
  const servers = nats.url.split(',');
  const nc = await connect({ servers, maxReconnectAttempts: -1, ...options.clientNatsOptions });
  const client = new McpqClient(await connect({ servers, maxReconnectAttempts: -1, ...options.clientNatsOptions }), {
    prefix,
    ownsConnection: true,
  });
  return new Harness(nats, mcp, mcp2026, proxies, specs, config, configPath, dir, nc, client);
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

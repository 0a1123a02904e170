/**
 * Connects to NATS from the config: the standard NATS credentials (user and
 * password, token, NKey seed file, .creds file, TLS), secrets read from env
 * or files, reconnection forever once connected, a bounded first connect.
 */
import { readFileSync } from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator, type Authenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/nats-core';
import { connect as natsConnect } from '@nats-io/transport-node';
import { resolveSecret } from '../config/load.js';
import type { NatsConfig } from '../config/schema.js';
import { describeError, ErrorCode, McpqError } from '../errors.js';

export interface NatsConnectOptions {
  /** Connection name shown in NATS monitoring. */
  name: string;
  logger?: ConnectLogger;
  env?: NodeJS.ProcessEnv;
  /** Total bound on the first connection, retries included (default nats.connectTimeoutMs). */
  firstConnectTimeoutMs?: number;
}

/** Translates the config's auth section into nats.js options. Reads secrets; never logs them. */
export function natsConnectionOptions(cfg: NatsConfig, name: string, env: NodeJS.ProcessEnv = process.env): ConnectionOptions {
  const opts: ConnectionOptions = {
    servers: cfg.servers,
    name: cfg.name ?? name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 10_000,
    maxPingOut: 3,
    // nats.js otherwise builds two Error objects with stack traces (a RequestError and a
    // TimeoutError) for every request, JetStream publishes and KV writes included, in case it
    // fails: 6% of the submitter's CPU on short calls, measured. A failed request still throws
    // the same error classes; only their stack shows nats.js instead of the caller.
    noAsyncTraces: true,
  };
  if (cfg.inboxPrefix !== undefined) opts.inboxPrefix = cfg.inboxPrefix;
  const authenticators: Authenticator[] = [];
  if (cfg.user !== undefined) {
    opts.user = cfg.user;
    if (cfg.password) opts.pass = resolveSecret(cfg.password, env, 'nats.password');
  }
  if (cfg.token) opts.token = resolveSecret(cfg.token, env, 'nats.token');
  if (cfg.credsFile) authenticators.push(credsAuthenticator(readFileBytes(cfg.credsFile, 'nats.credsFile')));
  if (cfg.nkeySeedFile) {
    const seed = new TextEncoder().encode(new TextDecoder().decode(readFileBytes(cfg.nkeySeedFile, 'nats.nkeySeedFile')).trim());
    authenticators.push(nkeyAuthenticator(seed));
  }
  if (authenticators.length > 0) opts.authenticator = authenticators;
  if (cfg.tls) {
    opts.tls = {};
    if (cfg.tls.caFile) opts.tls.caFile = cfg.tls.caFile;
    if (cfg.tls.certFile) opts.tls.certFile = cfg.tls.certFile;
    if (cfg.tls.keyFile) opts.tls.keyFile = cfg.tls.keyFile;
  }
  return opts;
}

/**
 * Connects, retrying the first connection until `firstConnectTimeoutMs`
 * (services often start before their NATS server); after that nats.js
 * reconnects on its own, forever.
 */
export async function connectNats(cfg: NatsConfig, options: NatsConnectOptions): Promise<NatsConnection> {
  const opts = natsConnectionOptions(cfg, options.name, options.env);
  const bound = options.firstConnectTimeoutMs ?? cfg.connectTimeoutMs;
  const deadline = Date.now() + bound;
  let attempt = 0;
  for (;;) {
    attempt++;
    try {
      const nc = await natsConnect({ ...opts, timeout: Math.max(500, Math.min(5_000, deadline - Date.now())) });
      if (attempt > 1) options.logger?.info({ attempt }, 'connected to NATS');
      return nc;
    } catch (err) {
      const left = deadline - Date.now();
      if (isAuthError(err) || left <= 0) {
        throw new McpqError(
          ErrorCode.nats_error,
          `cannot connect to NATS at ${cfg.servers.join(', ')} within ${bound} ms: ${describeError(err)}`,
          { cause: err },
        );
      }
      options.logger?.warn({ attempt, err: describeError(err) }, 'NATS not reachable yet, retrying');
      await new Promise((r) => setTimeout(r, Math.min(500 * attempt, 2_000, left)));
    }
  }
}

function isAuthError(err: unknown): boolean {
  const text = describeError(err).toLowerCase();
  return text.includes('authorization') || text.includes('authentication');
}

function readFileBytes(path: string, field: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new McpqError(
      ErrorCode.config_invalid,
      `invalid config: ${field} names ${path}, which cannot be read (${(err as Error).message})`,
    );
  }
}

/** What connecting logs (pino's logger fits; callers without one pass nothing). */
export interface ConnectLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

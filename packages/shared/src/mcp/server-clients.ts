/**
 * The one way a process builds its MCP HTTP clients from config: one client
 * (headers resolved from their secrets) and at most one shared session per
 * configured server, made on first use; and each server's protocol era
 * (probed once, cached) with its 2026-07-28 client.
 */
import { type Config, resolveHeaders, serverCa, type ServerConfig } from '@mcpq/contract';
import type { Logger } from '../log.js';
import { EraCache, type Era } from './era.js';
import { McpHttpClient } from './http-client.js';
import { ModernMcpClient } from './modern-client.js';
import { ServerSession } from './server-session.js';

export interface McpClientOptions {
  /** Caps the request timeout (short-lived uses like the CLI). */
  maxRequestTimeoutMs?: number;
  /** `limits` of the config: caps on answers and on the waits a server may ask for. Required: no built-in fallback. */
  limits: Pick<Config['limits'], 'maxResponseBytes' | 'maxRetryAfterMs'>;
}

/** An MCP HTTP client for one configured server; `alias` names it in a config error (its tls.caFile). */
export function mcpClientFor(server: ServerConfig, options: McpClientOptions, alias: string): McpHttpClient {
  const cap = options.maxRequestTimeoutMs ?? Number.POSITIVE_INFINITY;
  return new McpHttpClient({
    ca: serverCa(server, alias),
    url: server.url,
    headers: resolveHeaders(server),
    requestTimeoutMs: Math.min(server.requestTimeoutMs, cap),
    // Opening a session is a short request too: never allowed longer than one.
    connectTimeoutMs: Math.min(server.connectTimeoutMs, server.requestTimeoutMs, cap),
    maxResponseBytes: options.limits.maxResponseBytes,
    maxRetryAfterMs: options.limits.maxRetryAfterMs,
  });
}

/** A process's clients and sessions, by server alias. */
export class ServerClients {
  private readonly clients = new Map<string, McpHttpClient>();
  private readonly sessions = new Map<string, ServerSession>();
  private readonly moderns = new Map<string, ModernMcpClient>();
  private readonly eras = new EraCache();

  constructor(
    private readonly servers: Record<string, ServerConfig>,
    private readonly logger: Logger,
    private readonly limits: McpClientOptions['limits'],
  ) {}

  /** The client of a configured server (the caller checks that `alias` is configured). */
  client(alias: string): McpHttpClient {
    let client = this.clients.get(alias);
    if (!client) {
      client = mcpClientFor(this.servers[alias]!, { limits: this.limits }, alias);
      this.clients.set(alias, client);
    }
    return client;
  }

  /** This process's own session with a configured server. */
  session(alias: string): ServerSession {
    let session = this.sessions.get(alias);
    if (!session) {
      session = new ServerSession(alias, this.client(alias), this.logger);
      this.sessions.set(alias, session);
    }
    return session;
  }

  /** The 2026-07-28 client of a configured server (its tool list cached for the server's ttlMs). */
  modern(alias: string): ModernMcpClient {
    let modern = this.moderns.get(alias);
    if (!modern) {
      modern = new ModernMcpClient(this.client(alias), {
        onRejectedTool: (tool, reason) => this.logger.warn({ server: alias, tool }, `tool left out: ${reason}`),
      });
      this.moderns.set(alias, modern);
    }
    return modern;
  }

  /** The protocol era of a configured server (`server/discover`, probed once; throws when it cannot be reached). */
  era(alias: string): Promise<Era> {
    return this.eras.get(this.client(alias));
  }

  /** The server may have changed era (`suggestsEraChange`): the next `era` probes it again. */
  forgetEra(alias: string): void {
    this.eras.forget(this.client(alias).endpoint.url);
    this.logger.info({ server: alias }, 'the MCP server may have changed protocol era; it will be probed again');
  }

  /** Ends every session this process opened (best effort). */
  async close(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.close().catch(() => undefined)));
  }
}

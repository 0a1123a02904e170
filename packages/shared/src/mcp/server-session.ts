/**
 * One live MCP session per configured server, shared by every call a process
 * makes to it: opened lazily (one initialize even under concurrency),
 * replaced when the server forgets it, and with the server's tool list
 * cached (refreshed on a miss and after a time to live).
 */
import { ErrorCode, isMcpqError, McpqError } from '@mcpq/contract';
import type { Logger } from '../log.js';
import type { InitializedSession, McpHttpClient } from './http-client.js';

export interface ToolInfo {
  name: string;
  inputSchema?: Record<string, unknown>;
  annotations?: { idempotentHint?: boolean; [k: string]: unknown };
  execution?: { taskSupport?: 'forbidden' | 'optional' | 'required'; [k: string]: unknown };
}

export interface ServerSessionOptions {
  /** How long a tool list is trusted before it is fetched again. */
  toolsTtlMs?: number;
  /** Least time between two refreshes triggered by unknown tool names. */
  missRefreshMs?: number;
}

export class ServerSession {
  private current?: Promise<InitializedSession> | undefined;
  private tools?: { at: number; byName: Map<string, ToolInfo>; session: InitializedSession } | undefined;
  private toolsLoading?: Promise<Map<string, ToolInfo>> | undefined;
  private lastMissRefresh = 0;
  private readonly toolsTtlMs: number;
  private readonly missRefreshMs: number;

  constructor(
    readonly alias: string,
    readonly client: McpHttpClient,
    private readonly logger: Logger,
    options: ServerSessionOptions = {},
  ) {
    this.toolsTtlMs = options.toolsTtlMs ?? 60_000;
    this.missRefreshMs = options.missRefreshMs ?? 1_000;
  }

  /** The live session, opening one when there is none. */
  session(): Promise<InitializedSession> {
    if (!this.current) {
      const opening = this.client.initialize().then(
        (s) => {
          this.logger.info(
            { server: this.alias, sessionId: s.sessionId, protocolVersion: s.protocolVersion, resumable: s.resumable },
            'MCP session opened',
          );
          return s;
        },
        (err: unknown) => {
          if (this.current === opening) this.current = undefined;
          throw err;
        },
      );
      this.current = opening;
    }
    return this.current;
  }

  /** Forgets `session` (the server said 404): the next call opens a new one. */
  async invalidate(session: InitializedSession): Promise<void> {
    const cur = await this.current?.catch(() => undefined);
    if (cur === session) {
      this.current = undefined;
      this.tools = undefined;
      this.logger.warn({ server: this.alias, sessionId: session.sessionId }, 'MCP session lost; a new one will be opened');
    }
  }

  /** Looks a tool up; refreshes the list once when the name is missing. Undefined when the server has no such tool. */
  async tool(name: string): Promise<ToolInfo | undefined> {
    const now = Date.now();
    let byName = await this.toolList(this.tools !== undefined && now - this.tools.at > this.toolsTtlMs);
    if (!byName.has(name) && now - this.lastMissRefresh >= this.missRefreshMs) {
      this.lastMissRefresh = now;
      byName = await this.toolList(true);
    }
    return byName.get(name);
  }

  /** Every tool the server lists, fetched now (what the server catalog stores; the objects are kept as the server sent them). */
  async listTools(): Promise<ToolInfo[]> {
    return [...(await this.toolList(true)).values()];
  }

  async close(): Promise<void> {
    const cur = await this.current?.catch(() => undefined);
    this.current = undefined;
    if (cur) await this.client.terminate(cur);
  }

  /**
   * The tool list of the live session. A 404 (the server forgot the session)
   * replaces the session and asks once more on the new one: a lost session
   * must not fail every later call until a restart.
   */
  private async toolList(refresh: boolean): Promise<Map<string, ToolInfo>> {
    for (let attempt = 1; ; attempt++) {
      const session = await this.session();
      if (this.tools && this.tools.session === session && !refresh) return this.tools.byName;
      if (!this.toolsLoading) {
        this.toolsLoading = this.fetchTools(session).finally(() => {
          this.toolsLoading = undefined;
        });
      }
      try {
        return await this.toolsLoading;
      } catch (err) {
        if (!isMcpqError(err, ErrorCode.session_lost) || attempt >= 2) throw err;
        await this.invalidate(session);
      }
    }
  }

  private async fetchTools(session: InitializedSession): Promise<Map<string, ToolInfo>> {
    const byName = await fetchToolList(this.client, session, this.alias);
    this.tools = { at: Date.now(), byName, session };
    return byName;
  }
}

/** Every tool a 2025-11-25 session lists, by name, following `nextCursor` (at most 100 pages). */
export async function fetchToolList(client: McpHttpClient, session: InitializedSession, alias: string): Promise<Map<string, ToolInfo>> {
  const byName = new Map<string, ToolInfo>();
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const result = await client.request(session, 'tools/list', cursor ? { cursor } : undefined);
    if (!Array.isArray(result.tools)) {
      throw new McpqError(ErrorCode.protocol_error, `tools/list of server ${alias} has no tools array`);
    }
    for (const t of result.tools as ToolInfo[]) {
      if (t && typeof t.name === 'string') byName.set(t.name, t);
    }
    cursor = typeof result.nextCursor === 'string' && result.nextCursor ? result.nextCursor : undefined;
    if (!cursor) break;
  }
  return byName;
}

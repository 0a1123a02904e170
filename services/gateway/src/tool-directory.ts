/**
 * The tools the gateway offers: every tool of every configured server, named
 * `<alias>__<tool>`, read from the server catalog (KV `<prefix>_servers`).
 * An alias with no catalog entry, or one older than CATALOG_TTL_MS, is
 * asked again in its protocol era (`describeServer`) and written back, so the
 * next listing — from this gateway or any other replica — needs no live call.
 */
import {
  describeError,
  describeServer,
  ServerClients,
  type CatalogTool,
  type Config,
  type Logger,
  type ServerCatalog,
  type ServerCatalogEntry,
} from '@mcpq/shared';

/** Separates the server alias from the tool name in a gateway tool name. */
export const TOOL_NAME_SEPARATOR = '__';

/** A catalog entry older than this is fetched again from its server when tools are listed. */
export const CATALOG_TTL_MS = 5 * 60_000;

/** How long this process reuses a catalog entry it read, before reading the KV bucket again (another replica may have refreshed it). */
const MEMO_MS = 10_000;

/** Least time between two fetches of one server's tool list caused by an unknown tool name. */
const MISS_REFRESH_MS = 5_000;

export interface ResolvedTool {
  alias: string;
  tool: CatalogTool;
}

export class ToolDirectory {
  private readonly clients: ServerClients;
  /** One fetch per alias at a time, whatever the number of concurrent listings. */
  private readonly fetching = new Map<string, Promise<ServerCatalogEntry | undefined>>();
  private readonly lastMissRefresh = new Map<string, number>();
  private readonly memo = new Map<string, { at: number; entry: ServerCatalogEntry }>();

  constructor(
    private readonly config: Config,
    private readonly catalog: ServerCatalog,
    private readonly logger: Logger,
  ) {
    this.clients = new ServerClients(config.servers, logger, config.limits);
  }

  /** Every tool of every configured server that can be listed now (a server that cannot be reached and has no entry is left out). */
  async list(): Promise<Array<{ alias: string; tool: CatalogTool }>> {
    const entries = await Promise.all(Object.keys(this.config.servers).map((alias) => this.entry(alias)));
    return entries.flatMap((e) => (e ? e.tools.map((tool) => ({ alias: e.alias, tool })) : []));
  }

  /** The upstream server and tool a gateway tool name stands for; undefined when there is none. */
  async resolve(name: string): Promise<ResolvedTool | undefined> {
    const parsed = this.parseName(name);
    if (!parsed) return undefined;
    const entry = await this.entry(parsed.alias);
    let tool = entry?.tools.find((t) => t.name === parsed.tool);
    if (!tool) {
      // The server may have gained the tool since the entry was written: look once more (rate-limited).
      const last = this.lastMissRefresh.get(parsed.alias) ?? 0;
      if (Date.now() - last >= MISS_REFRESH_MS) {
        this.lastMissRefresh.set(parsed.alias, Date.now());
        const fetched = await this.fetch(parsed.alias);
        if (fetched) this.remember(fetched);
        tool = fetched?.tools.find((t) => t.name === parsed.tool);
      }
    }
    return tool ? { alias: parsed.alias, tool } : undefined;
  }

  /** Splits `<alias>__<tool>` on a configured alias (the longest that fits: aliases may contain `__` too). */
  parseName(name: string): { alias: string; tool: string } | undefined {
    let best: string | undefined;
    for (const alias of Object.keys(this.config.servers)) {
      if (name.startsWith(alias + TOOL_NAME_SEPARATOR) && (!best || alias.length > best.length)) best = alias;
    }
    if (!best) return undefined;
    const tool = name.slice(best.length + TOOL_NAME_SEPARATOR.length);
    return tool ? { alias: best, tool } : undefined;
  }

  async close(): Promise<void> {
    await this.clients.close();
  }

  /** The catalog entry of `alias`, fetched from the server when missing or stale (a stale entry is still used when the fetch fails). */
  private async entry(alias: string): Promise<ServerCatalogEntry | undefined> {
    const memo = this.memo.get(alias);
    if (memo && Date.now() - memo.at < MEMO_MS && isFresh(memo.entry)) return memo.entry;
    let stored: ServerCatalogEntry | undefined;
    try {
      stored = await this.catalog.get(alias);
    } catch (err) {
      this.logger.warn({ server: alias, err: describeError(err) }, 'cannot read the server catalog; asking the server');
    }
    if (stored && isFresh(stored)) return this.remember(stored);
    const fetched = await this.fetch(alias);
    return fetched ? this.remember(fetched) : stored;
  }

  private remember(entry: ServerCatalogEntry): ServerCatalogEntry {
    this.memo.set(entry.alias, { at: Date.now(), entry });
    return entry;
  }

  private fetch(alias: string): Promise<ServerCatalogEntry | undefined> {
    let pending = this.fetching.get(alias);
    if (!pending) {
      pending = this.fetchNow(alias).finally(() => this.fetching.delete(alias));
      this.fetching.set(alias, pending);
    }
    return pending;
  }

  private async fetchNow(alias: string): Promise<ServerCatalogEntry | undefined> {
    const cfg = this.config.servers[alias];
    if (!cfg) return undefined;
    try {
      const { entry } = await describeServer(alias, cfg, this.clients.client(alias), {
        onRejectedTool: (tool, reason) => this.logger.warn({ server: alias, tool }, `tool left out: ${reason}`),
      });
      await this.catalog.put(entry).catch((err: unknown) => {
        this.logger.warn({ server: alias, err: describeError(err) }, 'cannot write the server catalog; the listing is served anyway');
      });
      this.logger.info({ server: alias, protocol: entry.protocol, tools: entry.tools.length }, 'server catalog refreshed from the server');
      return entry;
    } catch (err) {
      this.logger.warn({ server: alias, err: describeError(err) }, 'cannot list the tools of the server');
      return undefined;
    }
  }
}

function isFresh(entry: ServerCatalogEntry): boolean {
  const age = Date.now() - Date.parse(entry.fetchedAt);
  return age >= 0 && age < CATALOG_TTL_MS;
}

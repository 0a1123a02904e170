/**
 * The server catalog: what mcpq knows of each configured MCP server (its
 * tool list, protocol era, server info, and the rejoin mode each tool gets),
 * kept in the KV bucket `<prefix>_servers` (key = server alias) by the
 * processes that talk to the servers. The gateway lists tools from it, the
 * console and `mcpq servers` show it: no live request per listing.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm, type KV } from '@nats-io/kv';
import { z } from 'zod';
import { ModeSchema, type Names } from '@mcpq/contract';

/** A tool as the server listed it (unknown fields kept: hosts may need them). */
export const CatalogToolSchema = z.looseObject({
  name: z.string(),
  title: z.string().optional(),
  description: z.string().optional(),
  inputSchema: z.record(z.string(), z.unknown()).optional(),
  outputSchema: z.record(z.string(), z.unknown()).optional(),
  annotations: z.record(z.string(), z.unknown()).optional(),
  execution: z.record(z.string(), z.unknown()).optional(),
});
export type CatalogTool = z.infer<typeof CatalogToolSchema>;

export const ServerCatalogEntrySchema = z.object({
  alias: z.string(),
  /** The MCP protocol revision the server speaks with mcpq (`2025-11-25`, `2026-07-28`, ...). */
  protocol: z.string().optional(),
  serverInfo: z.object({ name: z.string().optional(), version: z.string().optional() }).loose().optional(),
  tools: z.array(CatalogToolSchema),
  /** The rejoin mode each tool gets with the current config, where known. */
  modes: z.record(z.string(), ModeSchema).optional(),
  /** When the tool list was fetched from the server (ISO time). */
  fetchedAt: z.string(),
});
export type ServerCatalogEntry = z.infer<typeof ServerCatalogEntrySchema>;

export class ServerCatalog {
  constructor(private readonly kv: KV) {}

  /** Opens the catalog bucket (provisioned by `provision`). */
  static async open(nc: NatsConnection, n: Names): Promise<ServerCatalog> {
    return new ServerCatalog(await new Kvm(nc).open(n.serversBucket));
  }

  async get(alias: string): Promise<ServerCatalogEntry | undefined> {
    const entry = await this.kv.get(alias);
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    const parsed = ServerCatalogEntrySchema.safeParse(safeJson(entry.string()));
    return parsed.success ? parsed.data : undefined;
  }

  /** Stores what a process learnt of a server (last writer wins: every writer asked the same server). */
  async put(entry: ServerCatalogEntry): Promise<void> {
    await this.kv.put(entry.alias, JSON.stringify(ServerCatalogEntrySchema.parse(entry)));
  }

  /** Every entry, by alias. */
  async list(): Promise<ServerCatalogEntry[]> {
    const out: ServerCatalogEntry[] = [];
    for await (const alias of await this.kv.keys()) {
      const e = await this.get(alias);
      if (e) out.push(e);
    }
    return out.sort((a, b) => a.alias.localeCompare(b.alias));
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

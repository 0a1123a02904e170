/**
 * The servers-and-queues view: each server alias with its protocol era and
 * the mode per tool (from the server catalog, else from the config alone),
 * each stream and consumer with its depth, oldest message and redeliveries,
 * and each joiner's held and parked counts (asked over `<prefix>.ctl.joiners`
 * with a bounded wait).
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { JetStreamManager } from '@nats-io/jetstream';
import { JoinerReportSchema, ServerCatalog, streamNames, type Config, type JoinerReport, type Names } from '@mcpq/shared';

export interface ServerView {
  alias: string;
  /** The configured endpoint without credentials (user info and query are dropped). */
  url?: string | undefined;
  configuredMode?: string | undefined;
  protocol?: string | undefined;
  serverName?: string | undefined;
  tools: Array<{ name: string; mode?: string | undefined; idempotent: boolean }>;
  /** `catalog` when a process recorded what the server offers; `config` when only the config names it. */
  source: 'catalog' | 'config';
  fetchedAt?: string | undefined;
}

export interface StreamView {
  stream: string;
  messages: number;
  bytes: number;
  /** Time of the oldest message still in the stream (for a work queue: the oldest waiting). */
  oldest?: string | undefined;
  consumers: Array<{ name: string; pending: number; ackPending: number; redelivered: number; waiting: number }>;
}

/** How long the console waits for joiners to answer. */
const JOINER_WAIT_MS = 1_000;

export async function serverViews(nc: NatsConnection, n: Names, config: Config): Promise<ServerView[]> {
  const byAlias = new Map<string, ServerView>();
  for (const [alias, cfg] of Object.entries(config.servers)) {
    byAlias.set(alias, { alias, url: safeUrl(cfg.url), configuredMode: cfg.mode, tools: [], source: 'config' });
  }
  let entries: Awaited<ReturnType<ServerCatalog['list']>> = [];
  try {
    entries = await (await ServerCatalog.open(nc, n)).list();
  } catch {
    // no catalog bucket yet: the config alone
  }
  for (const e of entries) {
    const base = byAlias.get(e.alias) ?? { alias: e.alias, tools: [], source: 'catalog' as const };
    byAlias.set(e.alias, {
      ...base,
      source: 'catalog',
      protocol: e.protocol,
      serverName: e.serverInfo?.name,
      fetchedAt: e.fetchedAt,
      tools: e.tools.map((t) => ({ name: t.name, mode: e.modes?.[t.name], idempotent: t.annotations?.idempotentHint === true })),
    });
  }
  return [...byAlias.values()].sort((a, b) => a.alias.localeCompare(b.alias));
}

export async function streamViews(jsm: JetStreamManager, n: Names): Promise<StreamView[]> {
  const out: StreamView[] = [];
  for (const stream of streamNames(n)) {
    try {
      const info = await jsm.streams.info(stream);
      const consumers: StreamView['consumers'] = [];
      for await (const c of jsm.consumers.list(stream)) {
        if (!c.config.durable_name) continue; // ephemeral readers (watchers, this console) are not queues
        consumers.push({
          name: c.name,
          pending: c.num_pending,
          ackPending: c.num_ack_pending,
          redelivered: c.num_redelivered,
          waiting: c.num_waiting,
        });
      }
      out.push({
        stream,
        messages: info.state.messages,
        bytes: info.state.bytes,
        oldest: info.state.messages > 0 ? info.state.first_ts : undefined,
        consumers,
      });
    } catch {
      out.push({ stream, messages: 0, bytes: 0, consumers: [] });
    }
  }
  return out;
}

/** Every joiner that answers within JOINER_WAIT_MS (a joiner that does not answer is not shown). */
export async function joinerReports(nc: NatsConnection, n: Names): Promise<JoinerReport[]> {
  const out: JoinerReport[] = [];
  try {
    const replies = await nc.requestMany(n.controlJoiners, '', { strategy: 'timer', maxWait: JOINER_WAIT_MS });
    for await (const m of replies) {
      const parsed = JoinerReportSchema.safeParse(safeJson(m.string()));
      if (parsed.success) out.push(parsed.data);
    }
  } catch {
    // no responders: no joiner runs
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

function safeUrl(raw: string): string | undefined {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return undefined;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Operator commands of `mcpq`: ls (calls from KV), servers (what the
 * configured MCP servers offer and which mode each tool gets), dlq ls /
 * dlq replay (dead letters).
 */
import { parseArgs } from 'node:util';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import {
  CallStatusSchema,
  connectNats,
  DeadLetterSchema,
  describeError,
  loadConfig,
  streamNames,
  type Config,
  type DeadLetter,
  type ServerConfig,
  UiConfigSchema,
} from '@mcpq/contract';
import { McpqClient } from '../client.js';
import { UsageError } from './args.js';
import { loadServices, type Services } from './services.js';
import type { Command } from './commands.js';
import { ExitCode } from './exit-codes.js';
import { table, wantsJson } from './render.js';

const common = { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } as const;

export const ls: Command = {
  summary: 'list calls from their records (newest first), a page at a time',
  usage: `mcpq ls [--status STATUS] [--alias ALIAS] [--tool TOOL] [--limit N] [--scan-limit N] [--cursor CURSOR] [--json]

  --status STATUS   queued, dispatched, running, completed, failed, cancelled or timeout
  --alias ALIAS     only calls of this server alias
  --tool TOOL       only calls of this tool
  --limit N         at most N calls in the page (default ui.callsPageSize: 100)
  --scan-limit N    read at most N records for the page, matching or not (default ui.callsScanLimit: 1000)
  --cursor CURSOR   the next page: the cursor the previous page printed

  Newest first by last update. One run reads at most the scan limit of records, so with filters a page
  may hold fewer calls than --limit, even none; when there are more, the command prints (to stderr) the
  mcpq ls --cursor to run next.`,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        ...common,
        status: { type: 'string' },
        alias: { type: 'string' },
        tool: { type: 'string' },
        limit: { type: 'string' },
        'scan-limit': { type: 'string' },
        cursor: { type: 'string' },
      },
    });
    const status = values.status === undefined ? undefined : CallStatusSchema.safeParse(values.status);
    if (status && !status.success) throw new UsageError(`--status must be one of ${CallStatusSchema.options.join(', ')}`);
    const config = loadConfig();
    const limit = bounded('--limit', values.limit, UiConfigSchema.shape.callsPageSize, config.ui.callsPageSize);
    const scanLimit = bounded('--scan-limit', values['scan-limit'], UiConfigSchema.shape.callsScanLimit, config.ui.callsScanLimit);
    const client = await McpqClient.connect({ config });
    try {
      const page = await client.list({
        ...(status?.success ? { status: status.data } : {}),
        server: values.alias,
        tool: values.tool,
        limit,
        scanLimit,
        cursor: values.cursor,
      });
      const calls = page.calls;
      if (wantsJson(values.json)) {
        for (const c of calls) process.stdout.write(`${JSON.stringify(c)}\n`);
      } else {
        process.stdout.write(
          table(
            ['CALL ID', 'STATUS', 'SERVER', 'TOOL', 'MODE', 'PROGRESS', 'AGE', 'ERROR'],
            calls.map((c) => [
              c.callId,
              c.status,
              c.server,
              c.tool,
              c.mode ?? '',
              String(c.progressSeq),
              age(c.createdAt),
              c.error?.code ?? '',
            ]),
          ),
        );
      }
      // On stderr, so stdout stays the calls (one JSON object a line with --json).
      if (page.nextCursor !== undefined)
        process.stderr.write(
          `more calls: mcpq ls --cursor ${page.nextCursor} (with the same filters; ${page.scanned} records read for this page, ` +
            `at most ${scanLimit}, so a filtered page may be short)\n`,
        );
      return ExitCode.ok;
    } finally {
      await client.close();
    }
  },
};

/** A numeric option checked against the config field it stands in for: the schema is the one home of its bounds. */
function bounded(flag: string, text: string | undefined, field: typeof UiConfigSchema.shape.callsPageSize, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !field.safeParse(n).success) {
    const { minValue, maxValue } = field.unwrap();
    throw new UsageError(`${flag} must be a whole number from ${minValue} to ${maxValue}`);
  }
  return n;
}

export const servers: Command = {
  summary: 'show the configured MCP servers: reachable?, capabilities, tools and the mode each tool gets',
  usage: `mcpq servers [--json]

  Reads the servers from MCPQ_CONFIG and asks each one: its protocol era (server/discover), then
  initialize and tools/list (2025-11-25) or the stateless tools/list (2026-07-28).`,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: common });
    const services = await loadServices('servers');
    const config = loadConfig();
    const aliases = Object.keys(config.servers);
    if (aliases.length === 0) throw new UsageError('no servers configured: set MCPQ_CONFIG to a config file with a "servers" section');
    const rows = await Promise.all(
      aliases.map(async (alias) => {
        const cfg = config.servers[alias]!;
        try {
          return {
            alias,
            url: cfg.url,
            configuredMode: cfg.mode,
            reachable: true,
            ...(await describeRow(services, alias, cfg, config.limits)),
          };
        } catch (err) {
          return { alias, url: cfg.url, configuredMode: cfg.mode, reachable: false, error: describeError(err) };
        }
      }),
    );
    if (wantsJson(values.json)) {
      for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
    } else {
      for (const r of rows) {
        process.stdout.write(`${r.alias}  ${r.url}  (mode ${r.configuredMode})\n`);
        if (!r.reachable || !('tools' in r)) {
          process.stdout.write(`  unreachable: ${'error' in r ? r.error : ''}\n\n`);
          continue;
        }
        process.stdout.write(
          `  protocol ${r.protocolVersion}, resumable streams: ${r.resumable ? 'yes' : 'no'}, tasks: ${r.tasks ? 'yes' : 'no'}\n`,
        );
        process.stdout.write(
          table(
            ['  TOOL', 'MODE', 'IDEMPOTENT'],
            r.tools!.map((t) => [`  ${t.name}`, t.mode, t.idempotent ? 'yes' : 'no']),
          ) + '\n',
        );
      }
    }
    return rows.every((r) => r.reachable) ? ExitCode.ok : ExitCode.error;
  },
};

/** A server's row in `mcpq servers`: its description, with the mode of each tool or why it has none. */
async function describeRow(services: Services, alias: string, cfg: ServerConfig, limits: Config['limits']) {
  const { describeServer, mcpClientFor } = services;
  const { entry, resumable, tasks, modeErrors } = await describeServer(
    alias,
    cfg,
    mcpClientFor(cfg, { maxRequestTimeoutMs: 10_000, limits }, alias),
  );
  const tools = entry.tools.map((t) => ({
    name: t.name,
    mode: entry.modes?.[t.name] ?? `unsupported: ${modeErrors[t.name] ?? 'no mode'}`,
    idempotent: t.annotations?.idempotentHint === true,
  }));
  return { protocolVersion: entry.protocol, resumable, tasks, tools };
}

export const provision: Command = {
  summary: "create or update mcpq's streams, KV bucket and consumers (for an admin, under least privilege)",
  usage: `mcpq provision [--prefix PREFIX ...] [--json]

  Creates what mcpq needs in NATS from MCPQ_CONFIG (prefix, replicas, ages): the streams, the
  calls bucket and the submitter, joiner and advisories consumers. Services do this themselves at
  start-up when their NATS user may; under the least-privilege users of docs/nats-permissions.conf
  they may not, and an admin runs this once (and again after changing those settings).

  --prefix PREFIX   provision this prefix instead of the configured one (repeatable: one per
                    tenant of \`mcpq accounts\`)`,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { ...common, prefix: { type: 'string', multiple: true } } });
    const { provision: provisionNats } = await loadServices('provision');
    const config = loadConfig();
    const prefixes = values.prefix ?? [config.prefix];
    const nc = await connectNats(config.nats, { name: 'mcpq-provision' });
    try {
      const rows = [];
      for (const prefix of prefixes) {
        const { jsm, names } = await provisionNats(nc, { ...config, prefix }, { consumers: ['submitter', 'joiner'] });
        const infos = await Promise.all(streamNames(names).map((s) => jsm.streams.info(s)));
        rows.push(
          ...infos.map((i) => ({
            stream: i.config.name,
            subjects: i.config.subjects,
            replicas: i.config.num_replicas,
            messages: i.state.messages,
          })),
        );
      }
      if (wantsJson(values.json)) for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
      else
        process.stdout.write(
          table(
            ['STREAM', 'REPLICAS', 'MESSAGES', 'SUBJECTS'],
            rows.map((r) => [r.stream, String(r.replicas), String(r.messages), (r.subjects ?? []).join(' ')]),
          ),
        );
      return ExitCode.ok;
    } finally {
      await nc.close();
    }
  },
};

export const dlq: Command = {
  summary: 'list dead letters (dlq ls) or send one back to its subject (dlq replay <seq>)',
  usage: `mcpq dlq ls [--reason REASON] [--limit N] [--json]
mcpq dlq replay <seq> [--keep]

  ls       dead letters, oldest first, with the reason, code and call id
  replay   publish the original payload (and headers) again to its original subject, then
           delete the dead letter (--keep leaves it). A submission whose callId already has a
           result is refused again as a duplicate: replay is for what can now succeed.`,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'ls') return dlqList(rest);
    if (sub === 'replay') return dlqReplay(rest);
    throw new UsageError('expected "dlq ls" or "dlq replay <seq>"');
  },
};

async function dlqList(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...common, reason: { type: 'string' }, limit: { type: 'string', default: '100' } },
  });
  const limit = Number(values.limit);
  const client = await McpqClient.connect();
  try {
    const letters = await readDeadLetters(client, values.reason, limit);
    if (wantsJson(values.json)) {
      for (const l of letters) process.stdout.write(`${JSON.stringify(l)}\n`);
    } else {
      process.stdout.write(
        table(
          ['SEQ', 'REASON', 'CODE', 'CALL ID', 'SUBJECT', 'AT', 'MESSAGE'],
          letters.map((l) => [String(l.dlqSeq), l.reason, l.code, l.callId ?? '', l.subject, l.at, l.message.slice(0, 80)]),
        ),
      );
    }
    return ExitCode.ok;
  } finally {
    await client.close();
  }
}

/** Dead letters, oldest first (at most `limit`), each with its sequence in the DLQ stream. */
export async function readDeadLetters(
  client: McpqClient,
  reason: string | undefined,
  limit: number,
): Promise<Array<DeadLetter & { dlqSeq: number }>> {
  const js = jetstream(client.nc);
  const filter = reason ? client.names.dlq(reason) : client.names.dlqWildcard;
  const consumer = await js.consumers.get(client.names.streams.dlq, { filter_subjects: filter, deliver_policy: DeliverPolicy.All });
  const info = await consumer.info(true);
  const out: Array<DeadLetter & { dlqSeq: number }> = [];
  if (info.num_pending === 0) return out;
  const batch = await consumer.fetch({ max_messages: limit, expires: 2_000 });
  for await (const m of batch) {
    const parsed = DeadLetterSchema.safeParse(m.json());
    if (parsed.success) out.push({ ...parsed.data, dlqSeq: m.seq });
    if (m.info.pending === 0 || out.length >= limit) break;
  }
  return out;
}

async function dlqReplay(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...common, keep: { type: 'boolean', default: false } },
  });
  const seq = Number(positionals[0]);
  if (positionals.length !== 1 || !Number.isInteger(seq) || seq < 1)
    throw new UsageError('expected the dead letter\'s sequence number (see "mcpq dlq ls")');
  const client = await McpqClient.connect();
  try {
    const out = await replayDeadLetter(client, seq, { keep: values.keep });
    if (out.outcome === 'not_found') {
      process.stderr.write(`no dead letter with sequence ${seq}\n`);
      return ExitCode.notFound;
    }
    if (out.outcome === 'truncated') {
      process.stderr.write(
        `not replayed: dead letter ${seq} holds only the first part of its payload (${out.payloadBytes ?? '?'} bytes were too large to keep whole)\n`,
      );
      return ExitCode.error;
    }
    if (out.outcome === 'duplicate') {
      process.stderr.write(`not replayed: ${out.subject} still holds this Nats-Msg-Id within its duplicate window; try again later\n`);
      return ExitCode.error;
    }
    const { outcome: _o, ...shown } = out;
    process.stdout.write(
      wantsJson(values.json)
        ? `${JSON.stringify(shown)}\n`
        : `replayed dead letter ${seq} to ${out.subject} (${out.stream} seq ${out.seq})${values.keep ? '' : '; dead letter deleted'}\n`,
    );
    return ExitCode.ok;
  } finally {
    await client.close();
  }
}

export type ReplayOutcome =
  | { outcome: 'replayed'; replayed: number; subject: string; stream: string; seq: number; deleted: boolean }
  | { outcome: 'not_found' }
  | { outcome: 'duplicate'; subject: string }
  /** The letter holds only the start of its payload (cut to fit one NATS message): it cannot be replayed. */
  | { outcome: 'truncated'; payloadBytes?: number | undefined };

/**
 * Publishes a dead letter's original payload and headers again to its original subject, then
 * deletes the dead letter unless `keep`. A replay JetStream drops as a duplicate is reported, not retried.
 */
export async function replayDeadLetter(client: McpqClient, seq: number, options: { keep?: boolean } = {}): Promise<ReplayOutcome> {
  const jsm = await jetstreamManager(client.nc);
  const stored = await jsm.streams.getMessage(client.names.streams.dlq, { seq });
  if (!stored) return { outcome: 'not_found' };
  const letter = DeadLetterSchema.parse(stored.json());
  if (letter.payloadTruncated) return { outcome: 'truncated', payloadBytes: letter.payloadBytes };
  const payload =
    letter.payload !== undefined ? new TextEncoder().encode(letter.payload) : Buffer.from(letter.payloadBase64 ?? '', 'base64');
  const h = natsHeaders();
  for (const [k, vs] of Object.entries(letter.headers ?? {})) for (const v of vs) h.append(k, v);
  const ack = await jetstream(client.nc).publish(letter.subject, payload, { headers: h });
  if (ack.duplicate) return { outcome: 'duplicate', subject: letter.subject };
  if (!options.keep) await jsm.streams.deleteMessage(client.names.streams.dlq, seq);
  return { outcome: 'replayed', replayed: seq, subject: letter.subject, stream: ack.stream, seq: ack.seq, deleted: !options.keep };
}

function age(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/**
 * The one configuration schema of mcpq, shared by the submitter, the joiner
 * and the command line. Every option has a default and a doc comment;
 * docs/operations.md is the reference generated from the same text.
 */
import { z } from 'zod';
import { TOKEN_PATTERN } from '../wire/names.js';

const ms = (def: number) => z.number().int().nonnegative().default(def);
const positiveMs = (def: number) => z.number().int().positive().default(def);

/**
 * A secret value: `{ "env": "NAME" }` reads an environment variable,
 * `{ "file": "/path" }` reads a file (trailing newline trimmed). A plain
 * string is taken literally: fine for header values that are not secret.
 */
export const SecretSchema = z.union([z.string(), z.strictObject({ env: z.string().min(1) }), z.strictObject({ file: z.string().min(1) })]);
export type Secret = z.infer<typeof SecretSchema>;

/** Like SecretSchema, but a literal is refused: credentials never sit in a config file in clear. */
export const CredentialSchema = z.union([z.strictObject({ env: z.string().min(1) }), z.strictObject({ file: z.string().min(1) })]);

export const ModeSettingSchema = z.enum(['auto', 'task', 'resume', 'hold']);
export type ModeSetting = z.infer<typeof ModeSettingSchema>;

export const ServerConfigSchema = z.strictObject({
  /** The MCP server's Streamable HTTP endpoint (http or https). */
  url: z.url({ protocol: /^https?$/, error: 'url must be an http:// or https:// URL' }),
  /**
   * TLS of an https:// server. `caFile`: a PEM file of the CAs trusted for this server only, in place
   * of Node's public roots (a private CA). To add a CA for every server of a process instead, set
   * NODE_EXTRA_CA_CERTS in its environment.
   */
  tls: z.strictObject({ caFile: z.string().min(1) }).optional(),
  /** Extra HTTP headers sent on every request to the server, e.g. Authorization from the environment. */
  headers: z.record(z.string().min(1), SecretSchema).default({}),
  /** Rejoin mode: `auto` picks task, then resume, then hold from what the server supports. */
  mode: ModeSettingSchema.default('auto'),
  /** Calls of this server one joiner follows at once; more wait in the join queue (or go to another joiner). */
  maxInFlight: z.number().int().positive().default(1000),
  /** Time to live asked for MCP tasks (task mode). */
  taskTtlMs: positiveMs(24 * 3600 * 1000),
  /** Per-request HTTP timeout for short requests (initialize, tools/list, tasks/get, notifications). */
  requestTimeoutMs: positiveMs(30_000),
  /** Bound on opening a session (initialize), at most requestTimeoutMs: a server that accepts connections and never answers fails this fast. */
  connectTimeoutMs: positiveMs(5_000),
  /** Dispatches to this server one submitter runs at once; more wait without holding the submitter's shared slots. */
  maxDispatching: z.number().int().positive().default(8),
  /**
   * Task-state requests (tasks/get, or one page of tasks/list) a joiner's task watcher sends this
   * server per second, all parked calls together. With N parked calls polled by tasks/get, a
   * completion is noticed within about N / pollsPerSecond seconds (tasks/list: N / 10 pages).
   */
  pollsPerSecond: z.number().positive().default(100),
  /** Task-state requests a joiner's task watcher has under way to this server at once. */
  maxPolling: z.number().int().positive().default(4),
  /**
   * Learn parked tasks' states from the server's `notifications/tasks/status` as well: a joiner's task
   * watcher holds the session's GET stream (one per session, where 2025-11-25 servers such as the SDK's
   * send them) and wakes a call on its task's notification. Polls remain the safety net (every
   * notifiedPollMs, and once after each (re)open of the stream). `false`: polls only.
   */
  taskNotifications: z.boolean().default(true),
  /** While a session's notification stream is open, each parked task of it is still asked this often (a notification may be lost). */
  notifiedPollMs: positiveMs(10_000),
});
export type ServerConfig = z.infer<typeof ServerConfigSchema>;

export const NatsConfigSchema = z.strictObject({
  /** NATS server URL(s); a comma-separated string or a list. Env: NATS_URL. */
  servers: z
    .union([z.string(), z.array(z.string()).min(1)])
    .default('nats://127.0.0.1:4222')
    .transform((v) =>
      Array.isArray(v)
        ? v
        : v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
    ),
  /** Connection name shown in NATS monitoring. Defaults to the service name. */
  name: z.string().optional(),
  /** User for user/password auth. */
  user: z.string().optional(),
  /** Password for user/password auth (env or file). */
  password: CredentialSchema.optional(),
  /** Token auth (env or file). */
  token: CredentialSchema.optional(),
  /** Path of a `.creds` file (JWT + NKey seed). */
  credsFile: z.string().optional(),
  /** Path of a file holding an NKey seed (SU...). */
  nkeySeedFile: z.string().optional(),
  /** TLS: CA bundle, and a client certificate and key for mutual TLS. */
  tls: z
    .strictObject({
      caFile: z.string().optional(),
      certFile: z.string().optional(),
      keyFile: z.string().optional(),
    })
    .optional(),
  /** Replicas of every stream and of the KV bucket: 1, or 3 on a cluster. */
  replicas: z.union([z.literal(1), z.literal(3)]).default(1),
  /** Bound on the initial connection attempt. */
  connectTimeoutMs: positiveMs(5_000),
  /**
   * Prefix of this process's reply inboxes (default `_INBOX`). A joiner also
   * answers cancel requests whose reply subject starts with it; any other
   * reply subject than `_INBOX.`, `_R_.` or this one gets no answer.
   */
  inboxPrefix: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'inboxPrefix must be subject tokens without wildcards')
    .optional(),
  /**
   * JetStream API prefix of a caller in a tenant account: `$JS.<prefix>.API`
   * (what `mcpq accounts` maps the imported API to). Unset: `$JS.API`.
   */
  jsApiPrefix: z
    .string()
    .regex(/^\$?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'jsApiPrefix must be subject tokens without wildcards')
    .optional(),
});

export const SubmitterConfigSchema = z.strictObject({
  /** Requests dispatched at once by one submitter. */
  concurrency: z.number().int().positive().default(32),
  /** JetStream AckWait of the submit consumer: a dispatch silent this long is redelivered. */
  ackWaitMs: positiveMs(30_000),
  /** Deliveries of one request; when the last one fails too, the call ends `failed` (server_unreachable). */
  maxDeliver: z.number().int().min(2).default(5),
  /**
   * Bound on starting a call, wherever it is started (the submitter, or a joiner re-dispatching a
   * lost session): waiting for the first resumable event (or task id) of a tools/call, and
   * recording the new attempt through a NATS outage.
   */
  dispatchTimeoutMs: positiveMs(30_000),
  /**
   * The fast path: how long the submitter keeps reading a resume-mode call's tools/call stream
   * for the answer before handing the call to a joiner. A call answered within it is finished by
   * the submitter (no join, no joiner, no resume GET); a longer one holds one of the submitter's
   * `concurrency` slots this long first. 0 hands every call off at its first resumable event.
   * At most half of dispatchTimeoutMs is used.
   */
  answerWindowMs: ms(500),
  /** Backoff for transient upstream failures: first delay and cap. */
  retryBaseMs: positiveMs(500),
  retryMaxMs: positiveMs(30_000),
});

export const JoinerConfigSchema = z.strictObject({
  /** Calls one joiner follows at once (held streams and running polls; parked calls do not count). */
  maxInFlight: z.number().int().positive().default(1000),
  /**
   * JetStream AckWait of the join consumer: how long a silent joiner keeps a call before another
   * takes it over (takeover after a crash is this plus a rejoin). A joiner rides out a NATS outage
   * while it writes for a call for this plus one JetStream request timeout (joinRideOutMs), its
   * heartbeats keeping the join meanwhile.
   */
  ackWaitMs: positiveMs(4_000),
  /**
   * How often a joiner tells JetStream it still works on a held call (one small publish per held
   * call per heartbeat). Must be below ackWaitMs; a quarter of it leaves room for a slow event loop.
   */
  heartbeatMs: positiveMs(1_000),
  /** A resumed stream with no event for this long is closed and re-requested later. */
  idleTimeoutMs: positiveMs(60_000),
  /** Wait before re-requesting a stream the server closed, when the server gave no `retry`. */
  parkDelayMs: ms(1_000),
  /** Bounds on the task poll interval (task mode), whatever the server suggests. */
  pollMinMs: positiveMs(500),
  pollMaxMs: positiveMs(30_000),
  /**
   * How long a parked task-mode call's join is given back for (never past its deadline) while this
   * joiner's task watcher learns the task's state and wakes the join as soon as the task ends, its
   * status message changes or it asks for input. The trade-off: a joiner that dies takes its
   * watcher with it, and its parked calls come back (to any joiner) only when their lease ends, so
   * a completion may be noticed up to one lease late. 0 turns the watcher off: each join comes back
   * after the poll interval and is one tasks/get (the cost then grows with the calls that wait).
   */
  parkLeaseMs: ms(30_000),
  /**
   * The joiner holding a session's task-status stream (a server such as the SDK v1's allows one per
   * session) passes each status it hears on to the other joiners over core NATS
   * (`<prefix>.ctl.taskstatus.<server>`), so their parked calls of that session are woken by it too
   * instead of by their polls only. `false`: a joiner neither passes on nor listens.
   */
  shareTaskStatus: z.boolean().default(true),
  /** Backoff for transient upstream failures while rejoining: first delay and cap. */
  retryBaseMs: positiveMs(500),
  retryMaxMs: positiveMs(30_000),
  /** Most times one call is sent upstream (re-sends happen only for idempotent calls). */
  maxAttempts: z.number().int().positive().default(5),
  /** Failed rejoins in a row (server unreachable) before the call ends `server_unreachable`. */
  maxRejoinFailures: z.number().int().positive().default(20),
});

export const StreamsConfigSchema = z.strictObject({
  /** Window in which a repeated Nats-Msg-Id is dropped (submissions, progress, results). */
  duplicateWindowMs: positiveMs(120_000),
  /** How long call events stay replayable in the events stream. */
  eventsMaxAgeMs: positiveMs(24 * 3600 * 1000),
  /**
   * How long call records stay in KV after their last update. Live calls' records are rewritten
   * once a third of this old; it must be at least 3 times the longest time a live call may go
   * untouched (checked at start-up).
   */
  callsTtlMs: positiveMs(7 * 24 * 3600 * 1000),
  /** How long dead letters are kept. */
  dlqMaxAgeMs: positiveMs(7 * 24 * 3600 * 1000),
});

export const LimitsConfigSchema = z.strictObject({
  /** Largest accepted `arguments` object, in bytes of JSON. */
  maxArgumentsBytes: z
    .number()
    .int()
    .positive()
    .default(256 * 1024),
  /**
   * Largest result kept and published, in bytes of JSON. A larger one ends the call `failed`
   * with `result_too_large` (it must fit in one NATS message, 1 MiB by default, with its record).
   */
  maxResultBytes: z
    .number()
    .int()
    .positive()
    .default(512 * 1024),
  /** Deepest nesting accepted in `arguments` and `meta` (a `{}` is 1); deeper requests end `arguments_too_deep`. */
  maxArgumentsDepth: z.number().int().min(1).max(1000).default(64),
  /** Largest error kept in a record, a status or a result, in bytes of JSON; a larger one is cut (the code always survives). */
  maxErrorBytes: z
    .number()
    .int()
    .min(1024)
    .default(16 * 1024),
  /** Largest HTTP answer read from an MCP server (a JSON body, or one SSE event); a larger one is `response_too_large`. */
  maxResponseBytes: z
    .number()
    .int()
    .min(64 * 1024)
    .default(16 * 1024 * 1024),
  /** Longest wait a server may ask for with `Retry-After` or an SSE `retry:`; longer asks are cut to this (and to the call's deadline). */
  maxRetryAfterMs: positiveMs(60_000),
});

/**
 * A bearer token accepted by the gateway and the console. The token itself
 * comes from the environment or a file, never from the config in clear.
 */
export const AccessTokenSchema = z.strictObject({
  /** The bearer token (`Authorization: Bearer <token>`). */
  token: CredentialSchema,
  /** The tenant the token acts for: it sees and touches only that tenant's calls. */
  tenant: z.string().regex(TOKEN_PATTERN, 'tenant must be 1-64 characters from [A-Za-z0-9_-]').default('default'),
  /** A read-only token may look at calls but not cancel them or replay dead letters. */
  readOnly: z.boolean().default(false),
  /** An operator's token: sees and acts on every tenant's calls (the console), not only its own. */
  admin: z.boolean().default(false),
});
export type AccessToken = z.infer<typeof AccessTokenSchema>;

export const GatewayConfigSchema = z.strictObject({
  /** Port of the gateway's MCP endpoint (`/mcp`). Env: MCPQ_GATEWAY_PORT. */
  port: z.number().int().min(0).max(65535).default(4281),
  /** Address the gateway listens on. Without tokens it only ever listens on loopback. */
  host: z.string().min(1).default('127.0.0.1'),
  /** Bearer tokens (token -> tenant). Empty: no authentication, loopback only. Also used by the console. */
  tokens: z.array(AccessTokenSchema).default([]),
  /** Cancel a synchronous call when the MCP host disconnects before its result (default: the call goes on). */
  cancelOnDisconnect: z.boolean().default(false),
  /** Tasks in one `tasks/list` page, at most. */
  tasksListPageSize: z.number().int().min(1).max(1_000).default(100),
  /**
   * Call records one `tasks/list` request reads, at most, whoever they belong to: the work of a request
   * is bounded whatever the number of records. A page may then hold fewer tasks than tasksListPageSize,
   * even none, and still carry a nextCursor.
   */
  tasksListScanLimit: z.number().int().min(1).max(100_000).default(1_000),
});

export const UiConfigSchema = z.strictObject({
  /** Port of the web console (`mcpq ui`). Env: MCPQ_UI_PORT. */
  port: z.number().int().min(0).max(65535).default(4280),
  /** Address the console listens on. Without gateway.tokens it only ever listens on loopback. */
  host: z.string().min(1).default('127.0.0.1'),
  /** Calls in one page of the console's list (`/api/calls`, its "older calls" button) and of `mcpq ls`, at most. */
  callsPageSize: z.number().int().min(1).max(1_000).default(100),
  /**
   * Call records one such page reads at most, matching its filters or not (the console's live list starts
   * from one such read too): a request's work is bounded whatever the number of records. A filtered page
   * may then hold fewer calls than callsPageSize, even none, and still carry a nextCursor.
   */
  callsScanLimit: z.number().int().min(1).max(100_000).default(1_000),
});

export const ConfigSchema = z.strictObject({
  /** Subject prefix, stream-name prefix and bucket-name prefix. Env: MCPQ_PREFIX. */
  prefix: z.string().regex(TOKEN_PATTERN, 'prefix must be 1-64 characters from [A-Za-z0-9_-]').default('mcpq'),
  nats: NatsConfigSchema.default(NatsConfigSchema.parse({})),
  /** Server alias -> MCP server. Jobs name an alias; URLs never come from jobs. */
  servers: z
    .record(z.string().regex(TOKEN_PATTERN, 'server alias must be 1-64 characters from [A-Za-z0-9_-]'), ServerConfigSchema)
    .default({}),
  submitter: SubmitterConfigSchema.default(SubmitterConfigSchema.parse({})),
  joiner: JoinerConfigSchema.default(JoinerConfigSchema.parse({})),
  streams: StreamsConfigSchema.default(StreamsConfigSchema.parse({})),
  limits: LimitsConfigSchema.default(LimitsConfigSchema.parse({})),
  /** Port of /healthz, /readyz and /metrics; 0 turns the endpoint off. Env: MCPQ_HTTP_PORT. */
  httpPort: z.number().int().min(0).max(65535).default(0),
  gateway: GatewayConfigSchema.default(GatewayConfigSchema.parse({})),
  ui: UiConfigSchema.default(UiConfigSchema.parse({})),
  log: z
    .strictObject({
      /** pino level. Env: LOG_LEVEL. */
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    })
    .default({ level: 'info' }),
});

/** The config as written (every field optional). */
export type ConfigInput = z.input<typeof ConfigSchema>;
/** The config after defaults: what the services work with. */
export type Config = z.output<typeof ConfigSchema>;
export type NatsConfig = Config['nats'];
export type SubmitterConfig = Config['submitter'];
export type JoinerConfig = Config['joiner'];
export type GatewayConfig = Config['gateway'];
export type UiConfig = Config['ui'];

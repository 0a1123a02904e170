/**
 * McpqClient: what applications import. Submit a tool call and walk away,
 * watch it (replayed from the start, so a late or restarted watcher misses
 * nothing), wait for its result, read its status, cancel it. Any process can
 * do any of these for any call id; the client keeps no state of its own.
 */
import { randomBytes } from 'node:crypto';
import {
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type Consumer,
  type StoredMsg,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import {
  CALL_ID_PATTERN,
  CallRequestSchema,
  readRecord,
  readRecordSure,
  leaderView,
  type Versioned,
  CancelReplySchema,
  connectNats,
  ErrorCode,
  isTerminalRecord,
  resultDedupeId,
  loadConfig,
  McpqError,
  isNatsError,
  natsFailure,
  readWhileNatsFails,
  retryWhileNatsFails,
  names,
  ProgressEventSchema,
  publicStatus,
  ResultEventSchema,
  StatusEventSchema,
  TerminalStatusSchema,
  UiConfigSchema,
  type CallRecord,
  type CallRequest,
  type CallStatus,
  type CancelReply,
  type Config,
  type Mode,
  type Names,
  type ProgressEvent,
  type ResultEvent,
  type StatusEvent,
} from '@mcpq/contract';
import { WakeUps } from './wake-ups.js';
import { scanRecords, type ScanOrder } from './record-scan.js';
import { endSubmitSpan, startSubmitSpan } from './submit-span.js';

export interface McpqClientOptions {
  /** Subject prefix of the deployment (default `mcpq`). */
  prefix?: string;
  /**
   * JetStream API prefix (default `$JS.API`). A caller in a tenant account of
   * `mcpq accounts` reaches the services' streams under `$JS.<prefix>.API`.
   */
  jsApiPrefix?: string;
  /** close() also closes the NATS connection (default false: the connection is yours). */
  ownsConnection?: boolean;
}

export interface ConnectOptions extends McpqClientOptions {
  /** NATS URL(s). Default: the config's nats.servers (NATS_URL, else nats://127.0.0.1:4222). */
  servers?: string | string[];
  /** A full mcpq config (for NATS credentials); default: loaded from MCPQ_CONFIG and the environment. */
  config?: Config;
}

export interface SubmitOptions {
  /** Your own id for the call (1-64 of [A-Za-z0-9_-]); a random one otherwise. */
  callId?: string;
  /** Bounds the whole call, queue time included. */
  timeoutMs?: number;
  /** Declare the call safe to run twice (it may then be retried after a crash). */
  idempotent?: boolean;
  /** Passed to the MCP server in `_meta`. */
  meta?: Record<string, unknown>;
  /** W3C traceparent of the caller's trace; a new trace is started when absent. */
  traceparent?: string;
  /** How long to keep retrying while NATS does not acknowledge the submission (default 15 s). */
  submitTimeoutMs?: number;
}

export interface WaitOptions {
  /** Give up waiting after this long (the call itself goes on). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** call(): the submission's options, and how long to wait for the result. */
export interface CallOptions extends SubmitOptions {
  /** Give up waiting after this long (the call itself goes on; its id is in the `wait_timeout` error's message). */
  waitTimeoutMs?: number;
  /** Stops the wait (the call itself goes on). */
  signal?: AbortSignal;
}

export type CallEvent = ({ type: 'status' } & StatusEvent) | ({ type: 'progress' } & ProgressEvent) | ({ type: 'result' } & ResultEvent);

/** A call's current state, from its KV record. */
export interface CallInfo {
  callId: string;
  status: CallStatus;
  server: string;
  tool: string;
  mode?: Mode | undefined;
  /** The MCP protocol revision the call is made in (`2025-11-25`, `2026-07-28`), once dispatched. */
  protocol?: CallRecord['protocol'];
  attempts: number;
  progressSeq: number;
  owner?: string | undefined;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string | undefined;
  deadline?: string | undefined;
  error?: { code: string; message: string } | undefined;
}

/** Which calls list() returns, and how much one request reads. */
export interface ListOptions {
  status?: CallStatus | undefined;
  server?: string | undefined;
  tool?: string | undefined;
  /** Calls in the page, at most (default `ui.callsPageSize`). */
  limit?: number | undefined;
  /** Records read at most, matching or not (default `ui.callsScanLimit`). */
  scanLimit?: number | undefined;
  /** The `nextCursor` of the previous page (same order). */
  cursor?: string | undefined;
  /** `newest` (default) or `oldest` first, by last update. */
  order?: ScanOrder | undefined;
}

/** One page of list(). */
export interface CallPage {
  calls: CallInfo[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
  /** Records read for this page (at most the scan limit). */
  scanned: number;
}

/** list()'s page size and scan limit when not given: the config schema's (the console and `mcpq ls` use them too). */
const LIST_DEFAULTS = UiConfigSchema.parse({});

/**
 * How often result() looks at the record without a message on the result
 * subject: one published while the connection was reconnecting reached no
 * subscriber, and a wait must not depend on it.
 */
const RESULT_RECHECK_MS = 5_000;

/** How long status() keeps reading through a NATS failure: a look at a call, shorter than a wait for its result. */
const STATUS_READ_MS = 10_000;

export class McpqClient {
  readonly names: Names;
  private readonly js: JetStreamClient;
  private kv?: Promise<KV> | undefined;
  /** Whether the bucket is read by direct gets (any replica answers), learnt when it is opened. */
  private direct = false;
  private leaderKv?: Promise<KV> | undefined;
  private jsm?: Promise<JetStreamManager> | undefined;
  private readonly ownsConnection: boolean;
  private readonly apiPrefix: string | undefined;

  constructor(
    readonly nc: NatsConnection,
    options: McpqClientOptions = {},
  ) {
    this.names = names(options.prefix ?? 'mcpq');
    this.apiPrefix = options.jsApiPrefix;
    this.js = jetstream(nc, this.apiPrefix ? { apiPrefix: this.apiPrefix } : {});
    this.ownsConnection = options.ownsConnection ?? false;
  }

  /** Connects to NATS and returns a client that owns the connection (close() closes it). */
  static async connect(options: ConnectOptions = {}): Promise<McpqClient> {
    const config = options.config ?? loadConfig();
    const nats = options.servers
      ? { ...config.nats, servers: Array.isArray(options.servers) ? options.servers : options.servers.split(',') }
      : config.nats;
    const nc = await connectNats(nats, { name: 'mcpq-client' });
    const jsApiPrefix = options.jsApiPrefix ?? config.nats.jsApiPrefix;
    return new McpqClient(nc, { prefix: options.prefix ?? config.prefix, ownsConnection: true, ...(jsApiPrefix ? { jsApiPrefix } : {}) });
  }

  /**
   * Queues a tools/call and returns at once with the call id. Throws
   * `invalid_request` for a request the submitter would refuse, and
   * `duplicate_call_id` when this callId was submitted within the stream's
   * duplicate window.
   */
  async submit(server: string, tool: string, args?: Record<string, unknown>, options: SubmitOptions = {}): Promise<{ callId: string }> {
    const request: CallRequest = { callId: options.callId ?? newCallId(), tool };
    if (args !== undefined) request.arguments = args;
    if (options.timeoutMs !== undefined) request.timeoutMs = options.timeoutMs;
    if (options.idempotent !== undefined) request.idempotent = options.idempotent;
    if (options.meta !== undefined) request.meta = options.meta;
    const parsed = CallRequestSchema.safeParse(request);
    if (!parsed.success) {
      throw new McpqError(
        ErrorCode.invalid_request,
        `invalid call: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    const { span, traceparent } = startSubmitSpan(request.callId, server, tool, options.traceparent);
    const h = natsHeaders();
    h.set('traceparent', traceparent);
    const subject = this.names.submit(server);
    const payload = JSON.stringify(request);
    // A publish whose acknowledgement is lost (NATS failing over) is sent again with the same
    // Nats-Msg-Id: the stream keeps one copy. A duplicate on a retry is then our own first copy.
    try {
      const submitted = await retryWhileNatsFails(
        async (attempt) => {
          const ack = await this.js.publish(subject, payload, { msgID: request.callId, headers: h });
          if (ack.duplicate && attempt === 1) {
            throw new McpqError(ErrorCode.duplicate_call_id, `callId ${request.callId} was already submitted; this submission was dropped`);
          }
          return { callId: request.callId };
        },
        {
          until: Date.now() + (options.submitTimeoutMs ?? 15_000),
          stepMs: 250,
          retryable: (err) => !(err instanceof McpqError) && isNatsError(err),
        },
      );
      endSubmitSpan(span);
      return submitted;
    } catch (err) {
      const failure = natsFailure(err, `could not queue the call on ${subject}`);
      endSubmitSpan(span, failure);
      throw failure;
    }
  }

  /**
   * Every status, progress and result event of the call, from the first,
   * then live; ends after the result. Stops early on `timeoutMs` or `signal`
   * (throwing `wait_timeout` for the timeout).
   */
  async *watch(callId: string, options: WaitOptions = {}): AsyncGenerator<CallEvent> {
    yield* this.replayEvents(callId, this.names.callEvents(callId), options);
  }

  /**
   * Waits for the call's result (returns at once if it is already there).
   * The result is the one kept in the call record, which mcpq writes with
   * compare-and-set before it publishes it: a message on the result subject
   * only says "look now", so junk there can neither hide nor replace it.
   */
  async result(callId: string, options: WaitOptions = {}): Promise<ResultEvent> {
    if (!CALL_ID_PATTERN.test(callId)) throw new McpqError(ErrorCode.invalid_request, `invalid callId "${callId}"`);
    return this.awaitResult(callId, options);
  }

  /**
   * Submits a tools/call and waits for its result: submit() then result(),
   * one NATS round trip cheaper. It listens on the result subject before it
   * publishes the call, so no result can precede the listening and the look
   * result() starts with is not needed. Throws what submit() throws, and
   * `wait_timeout` when `waitTimeoutMs` or `signal` ends the wait first (the
   * call goes on; follow it with result(callId)).
   */
  async call(server: string, tool: string, args?: Record<string, unknown>, options: CallOptions = {}): Promise<ResultEvent> {
    const { waitTimeoutMs, signal, ...submitOptions } = options;
    const callId = submitOptions.callId ?? newCallId();
    // Checked before it names a subject: an id with '.', '*' or '>' would subscribe to other calls' results.
    if (!CALL_ID_PATTERN.test(callId)) throw new McpqError(ErrorCode.invalid_request, `invalid callId "${callId}"`);
    return this.awaitResult(
      callId,
      { ...(waitTimeoutMs !== undefined ? { timeoutMs: waitTimeoutMs } : {}), ...(signal ? { signal } : {}) },
      () => this.submit(server, tool, args, { ...submitOptions, callId }),
    );
  }

  /**
   * The wait of result() and call(). Listens first, then looks (a result
   * published in between is seen by one or the other) — or, given `submit`,
   * listens, then submits: nothing can have been published yet.
   */
  private async awaitResult(callId: string, options: WaitOptions, submit?: () => Promise<unknown>): Promise<ResultEvent> {
    const subject = this.names.call(callId, 'result');
    const wake = new WakeUps();
    const sub = this.nc.subscribe(subject, { callback: () => wake.kick() });
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const onAbort = () => wake.stop();
    const readBy = () => Date.now() + (options.timeoutMs ?? 30_000);
    try {
      if (submit) await submit();
      else {
        const kept = await this.keptResult(callId, readBy(), false);
        if (kept) return kept;
      }
      if (options.timeoutMs !== undefined) timer = setTimeout(() => ((timedOut = true), wake.stop()), options.timeoutMs);
      // A signal aborted already (a host gone while the call was submitted) fires no event: without this the wait never ended.
      if (options.signal?.aborted) wake.stop();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      for (let why = await wake.next(RESULT_RECHECK_MS); why !== 'stopped'; why = await wake.next(RESULT_RECHECK_MS)) {
        const now = await this.keptResult(callId, readBy(), why === 'message');
        if (now) return now;
      }
      if (timedOut)
        throw new McpqError(ErrorCode.wait_timeout, `no result for ${callId} within ${options.timeoutMs} ms (the call goes on)`);
      throw new McpqError(ErrorCode.wait_timeout, `stopped waiting for the result of ${callId}`);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      sub.unsubscribe();
    }
  }

  /**
   * The result kept in the call's record once the call has ended and its
   * result has been published (`published`: a message on the result subject
   * was just seen; otherwise the stream is asked). Waiting for the publish
   * keeps "result() returned" meaning "the result is in the stream". The
   * stream is asked first: while the call runs its result subject is empty,
   * and that one read answers (the record, often not even created yet when
   * result() starts, is read only once something was published). A call
   * without a record (its record expired before its events, or it is still
   * queued) has its result read from the stream, and only a message carrying
   * the result's dedupe id `<callId>.result` counts.
   */
  private async keptResult(callId: string, deadline: number, published: boolean): Promise<ResultEvent | undefined> {
    const stored = published ? undefined : await this.lastOnResultSubject(callId, deadline);
    if (stored === null) return undefined;
    // After the result's message the record has ended, unless the message is junk or the replica
    // that answered lags: then the leader is asked, instead of waiting RESULT_RECHECK_MS to look again.
    const record = published
      ? await this.readCallRecord(callId, deadline, (read) => !read || !isTerminalRecord(read.value))
      : await this.readCallRecord(callId, deadline);
    if (!record) return this.storedResult(callId, stored ?? (await this.lastOnResultSubject(callId, deadline)));
    return isTerminalRecord(record.value) ? record.value.result : undefined;
  }

  /** The stored result of a call without a record: the result subject's last message `m`, if it carries the result's dedupe id. */
  private storedResult(callId: string, m: StoredMsg | null): ResultEvent | undefined {
    if (!m || m.header.get('Nats-Msg-Id') !== resultDedupeId(callId)) return undefined;
    const event = parseEvent('result', m.data);
    if (event?.type !== 'result' || event.callId !== callId) return undefined;
    const { type: _type, ...result } = event;
    return result;
  }

  /** The last message stored on the call's result subject (direct get), whoever published it. */
  private async lastOnResultSubject(callId: string, deadline: number): Promise<StoredMsg | null> {
    const jsm = await this.manager();
    return this.readEvents(
      () => jsm.direct.getMessage(this.names.streams.events, { last_by_subj: this.names.call(callId, 'result') }),
      deadline,
    );
  }

  /**
   * Reads the events stream (or, with `stream`, another of mcpq's streams)
   * with `read`. A JetStream that is not ready yet (just restarted, leader
   * election) answers with timeouts: retried until `deadline`; a missing
   * stream is reported at once, and so are a refusal by NATS permissions
   * and mcpq's own verdict on what was read (a record that does not match
   * the schema): asking again would not change them.
   */
  private readEvents<T>(read: () => Promise<T>, deadline: number, stream = this.names.streams.events): Promise<T> {
    return readWhileNatsFails(read, { until: deadline, what: `cannot read ${stream} (has a submitter or joiner run yet?)` });
  }

  /**
   * The call's record (null when there is none), read with readEvents' retries;
   * asked again of the stream's leader when `doubt` holds for the answer (readRecordSure).
   */
  private readCallRecord(
    callId: string,
    deadline: number,
    doubt?: (read: Versioned<CallRecord> | null) => boolean,
  ): ReturnType<typeof readRecord> {
    return this.readEvents(
      async () => {
        const kv = await this.bucket();
        return doubt ? readRecordSure(kv, await this.leader(), callId, doubt) : readRecord(kv, callId);
      },
      deadline,
      `KV_${this.names.bucket}`,
    );
  }

  /** The bucket read through its leader, when reads otherwise go to any replica (direct gets). */
  private async leader(): Promise<KV | undefined> {
    await this.bucket();
    if (!this.direct) return undefined;
    return (this.leaderKv ??= leaderView(this.js, this.names.bucket));
  }

  /**
   * The call's current state, or null when no call with this id is known (yet: a queued call has no
   * record until a submitter takes it). The read rides out a NATS failure (a timeout, a leader election,
   * a reconnect) for up to `timeoutMs` (default 10 s), then throws `nats_error`.
   */
  async status(callId: string, options: { timeoutMs?: number } = {}): Promise<CallInfo | null> {
    if (!CALL_ID_PATTERN.test(callId)) throw new McpqError(ErrorCode.invalid_request, `invalid callId "${callId}"`);
    const deadline = Date.now() + (options.timeoutMs ?? STATUS_READ_MS);
    const record = await this.readCallRecord(callId, deadline);
    return record ? toCallInfo(record.value) : null;
  }

  /**
   * One page of the calls known to KV, newest first (by last update) unless
   * `order` says otherwise, optionally only one status, server or tool. One
   * request reads at most `scanLimit` records: with filters a page may be
   * short, even empty, and still have a `nextCursor` (see record-scan.ts).
   */
  async list(options: ListOptions = {}): Promise<CallPage> {
    const { status, server, tool } = options;
    const page = await scanRecords(
      { js: this.js, kv: await this.bucket() },
      {
        order: options.order ?? 'newest',
        pageSize: options.limit ?? LIST_DEFAULTS.callsPageSize,
        scanLimit: options.scanLimit ?? LIST_DEFAULTS.callsScanLimit,
        cursor: options.cursor,
        ...(status || server || tool
          ? {
              match: (r: CallRecord) =>
                (!status || publicStatus(r) === status) && (!server || r.server === server) && (!tool || r.tool === tool),
            }
          : {}),
      },
    );
    const calls = page.records.map((r) => toCallInfo(r.record));
    return page.nextCursor === undefined ? { calls, scanned: page.scanned } : { calls, nextCursor: page.nextCursor, scanned: page.scanned };
  }

  /** Asks mcpq to cancel the call. The reply says whether this request recorded the cancellation. */
  async cancel(callId: string, options: { reason?: string; timeoutMs?: number } = {}): Promise<CancelReply> {
    const body = options.reason ? { reason: options.reason } : {};
    try {
      const msg = await this.nc.request(this.names.cancel(callId), JSON.stringify(body), { timeout: options.timeoutMs ?? 10_000 });
      return CancelReplySchema.parse(msg.json());
    } catch (err) {
      throw natsFailure(err, `no answer to the cancel request for ${callId} (are joiners running?)`);
    }
  }

  async close(): Promise<void> {
    if (this.ownsConnection) await this.nc.close();
  }

  private manager(): Promise<JetStreamManager> {
    // No account check up front: right after a NATS restart it would time out; the callers' retries cover it.
    return (this.jsm ??= jetstreamManager(this.nc, {
      checkAPI: false,
      ...(this.apiPrefix ? { apiPrefix: this.apiPrefix } : {}),
    }));
  }

  private async bucket(): Promise<KV> {
    this.kv ??= this.openBucket().catch((err: unknown) => {
      this.kv = undefined;
      throw natsFailure(err, `cannot open KV bucket ${this.names.bucket} (has a submitter or joiner run yet?)`);
    });
    return this.kv;
  }

  /**
   * Opens the bucket with direct gets when its stream allows them (mcpq
   * provisions it so): a record read is then answered by the stream itself,
   * not the JetStream API, with the record as it is rather than in base64
   * JSON (a third fewer bytes), and a missing record raises no API advisory.
   * Binding alone would not know, and would read through the API. A user
   * who may not ask for the stream's info (or a NATS not ready to answer)
   * still reads records, through the API as before.
   */
  private async openBucket(): Promise<KV> {
    const direct = await (await this.manager()).streams.info(`KV_${this.names.bucket}`).then(
      (info) => info.config.allow_direct === true,
      () => false,
    );
    this.direct = direct;
    return new Kvm(this.js).open(this.names.bucket, { allow_direct: direct });
  }

  /** An ordered consumer on the events stream (see readEvents for the retries). */
  private eventsConsumer(filter: string, deadline: number): Promise<Consumer> {
    return this.readEvents(
      () => this.js.consumers.get(this.names.streams.events, { filter_subjects: filter, deliver_policy: DeliverPolicy.All }),
      deadline,
    );
  }

  private async *replayEvents(callId: string, filter: string, options: WaitOptions): AsyncGenerator<CallEvent> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(callId)) throw new McpqError(ErrorCode.invalid_request, `invalid callId "${callId}"`);
    const consumer = await this.eventsConsumer(filter, Date.now() + (options.timeoutMs ?? 30_000));
    const messages = await consumer.consume();
    let timedOut = false;
    const stop = () => messages.stop();
    const timer = options.timeoutMs !== undefined ? setTimeout(() => ((timedOut = true), stop()), options.timeoutMs) : undefined;
    options.signal?.addEventListener('abort', stop, { once: true });
    // A signal aborted already fires no event: without this the watch would go on to the result.
    if (options.signal?.aborted) stop();
    try {
      for await (const m of messages) {
        const kind = this.names.parseCallSubject(m.subject)?.kind;
        const event = parseEvent(kind, m.data);
        if (!event || event.callId !== callId) continue;
        if (event.type !== 'result') yield event;
        // Whatever sits on the result subject, the result is the record's (see result()). The
        // terminal status is a cue too: if junk took the result subject first, JetStream refuses
        // the real result, and the status before it is the last event the stream will hold.
        if (event.type === 'progress' || (event.type === 'status' && !isTerminalStatus(event.status))) continue;
        const kept = await this.keptResult(callId, Date.now() + 30_000, event.type === 'result');
        if (!kept) continue;
        yield { type: 'result', ...kept };
        return;
      }
      if (timedOut)
        throw new McpqError(ErrorCode.wait_timeout, `no result for ${callId} within ${options.timeoutMs} ms (the call goes on)`);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', stop);
      messages.stop();
    }
  }
}

/** completed, failed, cancelled or timeout. */
function isTerminalStatus(status: CallStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** A set, not a schema parse: looked up for every status event. */
const TERMINAL_STATUSES: ReadonlySet<string> = new Set(TerminalStatusSchema.options);

function parseEvent(kind: string | undefined, data: Uint8Array): CallEvent | undefined {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
  if (kind === 'status') {
    const p = StatusEventSchema.safeParse(json);
    return p.success ? { type: 'status', ...p.data } : undefined;
  }
  if (kind === 'progress') {
    const p = ProgressEventSchema.safeParse(json);
    return p.success ? { type: 'progress', ...p.data } : undefined;
  }
  if (kind === 'result') {
    const p = ResultEventSchema.safeParse(json);
    return p.success ? { type: 'result', ...p.data } : undefined;
  }
  return undefined;
}

export function toCallInfo(rec: CallRecord): CallInfo {
  return {
    callId: rec.callId,
    status: publicStatus(rec),
    server: rec.server,
    tool: rec.tool,
    mode: rec.mode,
    protocol: rec.protocol,
    attempts: rec.attempts,
    progressSeq: rec.progressSeq,
    owner: rec.owner,
    createdAt: rec.createdAt,
    updatedAt: rec.updatedAt,
    finishedAt: rec.finishedAt,
    deadline: rec.deadline !== undefined ? new Date(rec.deadline).toISOString() : undefined,
    error: rec.result?.error ? { code: rec.result.error.code, message: rec.result.error.message } : undefined,
  };
}

/** 22 url-safe characters, 128 bits of randomness. */
export function newCallId(): string {
  return randomBytes(16).toString('base64url');
}

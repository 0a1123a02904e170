/**
 * The joiner: takes join messages (one per dispatched call, shared by all
 * joiners), claims the call in KV, follows it upstream in its mode and
 * publishes progress and the one result. While it follows a call it keeps
 * the join message alive with working(); when there is nothing to wait on
 * it parks the join (nak with a delay) and holds nothing. If it dies,
 * JetStream redelivers the join and another joiner continues from KV.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import {
  backoffDelay,
  describeError,
  ErrorCode,
  finishCall,
  isMcpqError,
  JoinMessageSchema,
  keepWorking,
  McpHttpClient,
  publishDeadLetter,
  republishResult,
  resolveHeaders,
  WorkLoop,
  type CallRecord,
  type JoinMessage,
  type Logger,
  type Outcome,
  type ServiceContext,
  type Versioned,
} from '@mcpq/shared';
import type { JsMsg } from '@nats-io/jetstream';
import type { Disposition } from './disposition.js';
import { followResume } from './follow-resume.js';
import { CallWatch, type StopReason } from './stop-reasons.js';

export type JoinerState = 'created' | 'running' | 'draining' | 'stopped';

export class Joiner {
  readonly id: string;
  state: JoinerState = 'created';
  private readonly loop: WorkLoop;
  private readonly clients = new Map<string, McpHttpClient>();
  /** Calls this joiner follows right now (parked calls are not here). */
  private readonly active = new Map<string, CallWatch>();

  constructor(private readonly ctx: ServiceContext) {
    this.id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.loop = new WorkLoop({
      name: 'join',
      consumer: () => ctx.js.consumers.get(ctx.names.streams.join, ctx.names.consumers.joiner),
      concurrency: ctx.config.joiner.maxInFlight,
      handle: (msg) => this.handle(msg),
      logger: ctx.logger,
    });
  }

  start(): void {
    this.state = 'running';
    this.loop.start();
    this.ctx.logger.info({ joinerId: this.id, maxInFlight: this.ctx.config.joiner.maxInFlight }, 'joiner running');
  }

  /** Calls held in memory right now (the gauge tests and /metrics read). */
  get held(): number {
    return this.active.size;
  }

  /**
   * Stops pulling and hands every followed call back at once (nak without
   * delay), so another joiner resumes it from the token in KV.
   */
  async stop(graceMs: number): Promise<void> {
    this.state = 'draining';
    await this.loop.stop();
    for (const watch of this.active.values()) watch.stop({ kind: 'shutdown' });
    const left = await this.loop.drain(graceMs);
    if (left > 0) this.ctx.logger.warn({ left }, 'calls still being handed back at the end of the grace period');
    this.state = 'stopped';
  }

  private async handle(msg: JsMsg): Promise<void> {
    const { store, events, logger } = this.ctx;
    const join = this.parseJoin(msg);
    if (!join) return;
    const log = logger.child({ callId: join.callId, server: join.server, mode: join.mode, delivery: msg.info.deliveryCount });
    const found = await store.get(join.callId);
    if (!found) {
      await this.deadLetter(msg, ErrorCode.internal, `join for call ${join.callId}, which has no record in KV`, join.callId);
      return;
    }
    if (store.isTerminal(found)) {
      await republishResult(events, found.value);
      return msg.ack();
    }
    if (!this.ctx.config.servers[found.value.server]) {
      await this.finish(msg, found, { status: 'failed', error: { code: ErrorCode.unknown_server, message: `server "${found.value.server}" is not in this joiner's config` } }, log);
      return;
    }
    let claimed: Versioned<CallRecord>;
    try {
      claimed = await store.update(found, { status: 'running', owner: this.id });
    } catch (err) {
      if (!isMcpqError(err, ErrorCode.record_conflict)) throw err;
      return msg.nak(250); // someone wrote in between: look again shortly
    }
    if (found.value.status !== 'running') {
      await events.status(join.callId, 'running', { mode: claimed.value.mode, attempt: claimed.value.attempts });
    }
    const watch = new CallWatch(this.ctx.config.joiner.idleTimeoutMs, claimed.value.deadline);
    this.active.set(join.callId, watch);
    const stopKeepAlive = keepWorking(msg, this.ctx.config.joiner.heartbeatMs);
    try {
      if (this.state !== 'running') watch.stop({ kind: 'shutdown' });
      const disposition = await this.follow(claimed, watch);
      await this.settle(msg, disposition, log);
    } finally {
      stopKeepAlive();
      watch.dispose();
      this.active.delete(join.callId);
    }
  }

  private async follow(record: Versioned<CallRecord>, watch: CallWatch): Promise<Disposition> {
    const deps = { ctx: this.ctx, client: this.clientFor(record.value.server), watch };
    switch (record.value.mode) {
      case 'resume':
        return followResume(deps, record);
      default:
        return {
          kind: 'outcome',
          record,
          outcome: { status: 'failed', error: { code: ErrorCode.mode_unsupported, message: `this joiner cannot follow mode ${record.value.mode}` } },
        };
    }
  }

  /** Turns what following came to into ack / nak / a final result. */
  private async settle(msg: JsMsg, d: Disposition, log: Logger): Promise<void> {
    switch (d.kind) {
      case 'finished':
        return msg.ack();
      case 'outcome':
        return this.finish(msg, d.record, d.outcome, log);
      case 'park':
        log.debug({ delayMs: d.delayMs, why: d.why }, 'call parked');
        return msg.nak(d.delayMs);
      case 'retry': {
        const delay = Math.max(
          d.error.retryAfterMs ?? 0,
          backoffDelay(msg.info.deliveryCount, this.ctx.config.joiner.retryBaseMs, this.ctx.config.joiner.retryMaxMs),
        );
        log.warn({ err: describeError(d.error), retryInMs: delay }, 'rejoin failed; will retry');
        return msg.nak(delay);
      }
      case 'lost':
        log.info('another joiner took the call over; letting go');
        return;
      case 'stopped':
        return this.stopped(msg, d.reason, d.record, log);
    }
  }

  private async stopped(msg: JsMsg, reason: StopReason, record: Versioned<CallRecord>, log: Logger): Promise<void> {
    switch (reason.kind) {
      case 'shutdown':
        log.info('handing the call back (shutdown)');
        return msg.nak();
      case 'idle':
        log.debug('stream idle; parking');
        return msg.nak(this.ctx.config.joiner.parkDelayMs);
      case 'deadline':
      case 'cancel': {
        await this.cancelUpstream(record.value, reason.kind === 'deadline' ? 'mcpq: deadline passed' : 'mcpq: cancelled', log);
        const outcome: Outcome =
          reason.kind === 'deadline'
            ? { status: 'timeout', error: { code: ErrorCode.timeout, message: 'the call passed its deadline (timeoutMs); it was cancelled upstream' } }
            : { status: 'cancelled', error: { code: ErrorCode.cancelled, message: 'the call was cancelled on request' } };
        return this.finish(msg, record, outcome, log);
      }
    }
  }

  /** Ends the call with compare-and-set; a lost race means someone else ended it, which is fine. */
  private async finish(msg: JsMsg, record: Versioned<CallRecord>, outcome: Outcome, log: Logger): Promise<void> {
    try {
      await finishCall(this.ctx.store, this.ctx.events, record, outcome);
      log.info({ status: outcome.status, code: outcome.error?.code }, 'call finished');
      msg.ack();
    } catch (err) {
      if (!isMcpqError(err, ErrorCode.record_conflict)) throw err;
      log.info('call record changed before the result could be recorded; letting go');
    }
  }

  /** Tells the MCP server to stop the call. Best effort: the call ends here either way. */
  private async cancelUpstream(record: CallRecord, reason: string, log: Logger): Promise<void> {
    const client = this.clientFor(record.server);
    const session = { sessionId: record.sessionId, protocolVersion: record.protocolVersion ?? '2025-11-25' };
    try {
      if (record.requestId !== undefined) {
        await client.notify(session, 'notifications/cancelled', { requestId: record.requestId, reason });
      }
    } catch (err) {
      log.warn({ err: describeError(err) }, 'could not cancel the call upstream');
    }
  }

  private parseJoin(msg: JsMsg): JoinMessage | undefined {
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(msg.data));
    } catch {
      void this.deadLetter(msg, ErrorCode.invalid_request, 'join message is not JSON');
      return undefined;
    }
    const parsed = JoinMessageSchema.safeParse(json);
    if (!parsed.success) {
      void this.deadLetter(msg, ErrorCode.invalid_request, `invalid join message: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      return undefined;
    }
    return parsed.data;
  }

  private async deadLetter(msg: JsMsg, code: ErrorCode, message: string, callId?: string): Promise<void> {
    this.ctx.logger.error({ code, subject: msg.subject, seq: msg.seq, callId }, message);
    try {
      await publishDeadLetter(this.ctx.js, this.ctx.names, { reason: 'join', code, message, msg, callId });
      msg.ack();
    } catch (err) {
      this.ctx.logger.error({ err: describeError(err) }, 'could not dead-letter a join; it will be redelivered');
      msg.nak(5_000);
    }
  }

  private clientFor(server: string): McpHttpClient {
    let client = this.clients.get(server);
    if (!client) {
      const cfg = this.ctx.config.servers[server]!;
      client = new McpHttpClient({ url: cfg.url, headers: resolveHeaders(cfg), requestTimeoutMs: cfg.requestTimeoutMs });
      this.clients.set(server, client);
    }
    return client;
  }
}

/**
 * The submitter: takes CallRequests from the submit queue, claims each callId
 * in KV, starts the call on its MCP server, records what it takes to rejoin
 * it, hands it to the joiners and lets go. It never waits for a tool to end.
 *
 * A request's life here, as KV states: accepted -> dispatching -> dispatched.
 * A redelivered request continues from the state it finds; one that finds
 * `dispatching` knows a previous attempt may have reached the server.
 */
import {
  backoffDelay,
  chooseMode,
  describeError,
  ErrorCode,
  finishCall,
  isMcpqError,
  keepWorking,
  McpHttpClient,
  McpqError,
  outcomeOfResponse,
  publishDeadLetter,
  republishResult,
  resolveHeaders,
  ServerSession,
  toMcpqError,
  toolCallIds,
  toolCallMessage,
  WorkLoop,
  type CallRecord,
  type CallRequest,
  type JoinMessage,
  type Logger,
  type Mode,
  type Outcome,
  type ServiceContext,
  type Versioned,
} from '@mcpq/shared';
import type { JsMsg } from '@nats-io/jetstream';
import { parseSubmission, type Intake } from './intake.js';
import { DispatchError, startResumableCall } from './start-call.js';

export type SubmitterState = 'created' | 'running' | 'draining' | 'stopped';

export class Submitter {
  state: SubmitterState = 'created';
  private readonly loop: WorkLoop;
  private readonly sessions = new Map<string, ServerSession>();

  constructor(private readonly ctx: ServiceContext) {
    this.loop = new WorkLoop({
      name: 'submit',
      consumer: () => ctx.js.consumers.get(ctx.names.streams.submit, ctx.names.consumers.submitter),
      concurrency: ctx.config.submitter.concurrency,
      handle: (msg) => this.handle(msg),
      logger: ctx.logger,
    });
  }

  start(): void {
    this.state = 'running';
    this.loop.start();
    this.ctx.logger.info({ concurrency: this.ctx.config.submitter.concurrency }, 'submitter running');
  }

  /** Stops taking requests and finishes the dispatches already started (bounded by `graceMs`). */
  async stop(graceMs: number): Promise<void> {
    this.state = 'draining';
    await this.loop.stop();
    const left = await this.loop.drain(graceMs);
    if (left > 0) this.ctx.logger.warn({ left }, 'dispatches still running at the end of the grace period; JetStream will redeliver them');
    this.state = 'stopped';
  }

  get inFlight(): number {
    return this.loop.inFlight;
  }

  private async handle(msg: JsMsg): Promise<void> {
    const intake = parseSubmission(msg.subject, msg.data, this.ctx.names, this.ctx.config);
    if (!intake.ok) return this.reject(msg, intake);
    const log = this.ctx.logger.child({ callId: intake.request.callId, server: intake.server, tool: intake.request.tool });
    const record = await this.claim(msg, intake.server, intake.request, log);
    if (!record) return msg.ack();
    const stopKeepAlive = keepWorking(msg, Math.max(1_000, Math.floor(this.ctx.config.submitter.ackWaitMs / 3)));
    try {
      await this.dispatch(msg, record, intake.server, intake.request, log);
    } finally {
      stopKeepAlive();
    }
  }

  /**
   * Claims the callId, or explains why this message must not start a call.
   * Returns the record to dispatch from, or null when the message is done.
   */
  private async claim(msg: JsMsg, server: string, request: CallRequest, log: Logger): Promise<Versioned<CallRecord> | null> {
    const { store } = this.ctx;
    const created = await store.create({
      callId: request.callId,
      server,
      tool: request.tool,
      status: 'accepted',
      idempotent: request.idempotent ?? false,
      submitSeq: msg.seq,
      // The deadline counts from when the request entered the queue.
      ...(request.timeoutMs !== undefined ? { deadline: Math.floor(msg.info.timestampNanos / 1e6) + request.timeoutMs } : {}),
    });
    if (created) {
      log.info('call accepted');
      return created;
    }
    const existing = await store.get(request.callId);
    if (!existing) return this.claim(msg, server, request, log);
    const rec = existing.value;
    if (rec.submitSeq !== msg.seq) {
      if (rec.submitSeq === undefined && store.isTerminal(existing)) return null; // cancelled while queued
      log.warn({ existingStatus: rec.status }, 'duplicate callId: the submission was not run');
      await publishDeadLetter(this.ctx.js, this.ctx.names, {
        reason: 'submit',
        code: ErrorCode.duplicate_call_id,
        message: `callId ${request.callId} is already used by a call in status ${rec.status}; this submission was not run`,
        msg,
        callId: request.callId,
      });
      return null;
    }
    // The same message again: a previous delivery died part-way. Continue from where it stopped.
    switch (rec.status) {
      case 'accepted':
        return existing;
      case 'dispatching':
        if (rec.idempotent) {
          log.warn('previous dispatch was interrupted; the tool is idempotent, dispatching again');
          return store.update(existing, { status: 'accepted' });
        }
        log.warn('previous dispatch was interrupted after sending: outcome unknown');
        await finishCall(store, this.ctx.events, existing, {
          status: 'failed',
          error: {
            code: ErrorCode.outcome_unknown,
            message: 'the submitter stopped after sending tools/call and before recording it; the tool may or may not have run (not idempotent, so not retried)',
          },
        });
        return null;
      case 'dispatched':
      case 'running':
        await this.publishJoin(rec, rec.mode ?? 'resume', request);
        return null;
      default:
        await republishResult(this.ctx.events, rec);
        return null;
    }
  }

  private async dispatch(msg: JsMsg, record: Versioned<CallRecord>, server: string, request: CallRequest, log: Logger): Promise<void> {
    const { store, events, config } = this.ctx;
    let current = record;
    if (current.value.deadline !== undefined && Date.now() >= current.value.deadline) {
      await finishCall(store, events, current, {
        status: 'timeout',
        error: { code: ErrorCode.timeout, message: `the call's deadline (timeoutMs ${request.timeoutMs}) passed before it was dispatched` },
      });
      return msg.ack();
    }
    const serverSession = this.sessionFor(server);
    try {
      const session = await serverSession.session();
      const tool = await serverSession.tool(request.tool);
      if (!tool) {
        await finishCall(store, events, current, {
          status: 'failed',
          error: { code: ErrorCode.unknown_tool, message: `server ${server} has no tool named "${request.tool}" (checked tools/list)` },
        });
        return msg.ack();
      }
      const mode = chooseMode(config.servers[server]!.mode, session, tool, server);
      const idempotent = request.idempotent === true || tool.annotations?.idempotentHint === true;
      const attempt = current.value.attempts + 1;
      const ids = toolCallIds(request.callId, attempt);
      if (mode !== 'resume') {
        throw new McpqError(ErrorCode.mode_unsupported, `mode ${mode} is not available yet`);
      }
      current = await store.update(current, {
        status: 'dispatching',
        mode,
        idempotent,
        attempts: attempt,
        sessionId: session.sessionId,
        protocolVersion: session.protocolVersion,
        requestId: ids.requestId,
        progressToken: ids.progressToken,
      });
      let started;
      try {
        started = await startResumableCall(
          serverSession.client,
          session,
          toolCallMessage(ids, request.callId, request),
          ids.requestId,
          config.submitter.dispatchTimeoutMs,
        );
      } catch (err) {
        if (err instanceof DispatchError && err.error.code === ErrorCode.session_lost) await serverSession.invalidate(session);
        throw err;
      }
      if (started.kind === 'finished') {
        log.info('call finished before it could be detached');
        await finishCall(store, events, current, outcomeOfResponse(started.message));
        return msg.ack();
      }
      current = await store.update(current, { status: 'dispatched', lastEventId: started.lastEventId, dispatchedAt: new Date().toISOString() });
      await this.publishJoin(current.value, mode, request);
      await events.status(request.callId, 'dispatched', { mode, attempt });
      msg.ack();
      log.info({ mode, attempt, sessionId: session.sessionId }, 'call dispatched');
    } catch (err) {
      await this.failDispatch(msg, current, err, log);
    }
  }

  /**
   * A dispatch failed. Decide: retry later (nothing ran, or the tool is
   * idempotent), or end the call with the error (outcome_unknown when the
   * request may have reached the server).
   */
  private async failDispatch(msg: JsMsg, current: Versioned<CallRecord>, err: unknown, log: Logger): Promise<void> {
    const { store, events, config } = this.ctx;
    if (isMcpqError(err, ErrorCode.record_conflict)) {
      // Someone else (a cancel) changed the record: look again on the next delivery.
      log.info('call record changed during dispatch; re-reading');
      return msg.nak();
    }
    const reached = err instanceof DispatchError ? err.reached : 'no';
    const error = err instanceof DispatchError ? err.error : toMcpqError(err);
    const sent = current.value.status === 'dispatching';
    if (sent && reached === 'maybe' && !current.value.idempotent) {
      log.warn({ err: describeError(error) }, 'tools/call may have reached the server: outcome unknown');
      await finishCall(store, events, current, {
        status: 'failed',
        error: {
          code: ErrorCode.outcome_unknown,
          message: `tools/call may have reached the server, then failed: ${error.message}; not retried (tool not idempotent)`,
          data: { cause: error.toWire() },
        },
      });
      return msg.ack();
    }
    if (sent) current = await store.update(current, { status: 'accepted' });
    const deliveries = msg.info.deliveryCount;
    const retryable = error.retryable || error.code === ErrorCode.session_lost;
    if (retryable && deliveries < config.submitter.maxDeliver) {
      const delay = Math.max(error.retryAfterMs ?? 0, backoffDelay(deliveries, config.submitter.retryBaseMs, config.submitter.retryMaxMs));
      log.warn({ err: describeError(error), deliveries, retryInMs: delay }, 'dispatch failed; will retry');
      await events.status(current.value.callId, 'queued', {
        detail: `retrying in ${delay} ms: ${error.message}`,
        attempt: current.value.attempts,
        key: `retry${deliveries}`,
      });
      return msg.nak(delay);
    }
    const outcome: Outcome = {
      status: 'failed',
      error: retryable
        ? { code: ErrorCode.server_unreachable, message: `gave up after ${deliveries} attempts: ${error.message}`, data: { cause: error.toWire() } }
        : error.toWire(),
    };
    log.warn({ err: describeError(error), deliveries }, 'dispatch failed; call ends failed');
    await finishCall(store, events, current, outcome);
    msg.ack();
  }

  /** Rejected input: a failed result when the callId is usable and free, else a dead letter. */
  private async reject(msg: JsMsg, intake: Extract<Intake, { ok: false }>): Promise<void> {
    const { store, events, logger, js, names } = this.ctx;
    logger.warn({ code: intake.code, callId: intake.callId, subject: msg.subject, seq: msg.seq }, `rejected submission: ${intake.message}`);
    if (intake.callId) {
      const created = await store.create({
        callId: intake.callId,
        server: intake.server ?? '',
        tool: intake.tool ?? '',
        status: 'accepted',
        idempotent: false,
        submitSeq: msg.seq,
      });
      const existing = created ?? (await store.get(intake.callId));
      if (existing && existing.value.submitSeq === msg.seq) {
        if (store.isTerminal(existing)) await republishResult(events, existing.value);
        else await finishCall(store, events, existing, { status: 'failed', error: { code: intake.code, message: intake.message } });
        return msg.ack();
      }
    }
    await publishDeadLetter(js, names, {
      reason: 'submit',
      code: intake.code,
      message: intake.callId ? `${intake.message} (callId ${intake.callId} is already in use, so no result was published)` : intake.message,
      msg,
      callId: intake.callId,
    });
    msg.ack();
  }

  private async publishJoin(record: CallRecord, mode: Mode, request: CallRequest): Promise<void> {
    const join: JoinMessage = { callId: record.callId, server: record.server, mode };
    if (mode === 'hold') join.request = request;
    await this.ctx.js.publish(this.ctx.names.join(record.server), JSON.stringify(join), {
      msgID: `${record.callId}.join.${record.attempts}`,
    });
  }

  private sessionFor(server: string): ServerSession {
    let s = this.sessions.get(server);
    if (!s) {
      const cfg = this.ctx.config.servers[server]!;
      const client = new McpHttpClient({ url: cfg.url, headers: resolveHeaders(cfg), requestTimeoutMs: cfg.requestTimeoutMs });
      s = new ServerSession(server, client, this.ctx.logger);
      this.sessions.set(server, s);
    }
    return s;
  }
}

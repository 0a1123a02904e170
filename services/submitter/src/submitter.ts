/**
 * The submitter: takes CallRequests from the submit queue, claims each callId
 * in KV, starts the call on its MCP server, records what it takes to rejoin
 * it, hands it to the joiners and lets go. It never waits for a tool to end.
 *
 * A request's life here, as KV states: accepted -> dispatching -> dispatched
 * (or a terminal state, when the answer comes within the fast path's read
 * window). When the call can be started at once (session, tool and
 * arguments checked before the claim, without NATS), the record is created
 * directly in the state the first write would set (`dispatching` with the
 * attempt, or `dispatched` in hold mode): one compare-and-set fewer.
 * A redelivered request continues from the state it finds; one that finds
 * `dispatching` knows a previous attempt may have reached the server.
 */

import {
  attemptFields,
  backoffDelay,
  beginAttempt,
  cancelUpstream,
  decideRerun,
  DispatchError,
  describeError,
  ErrorCode,
  finishCall,
  hopTraceparent,
  isMcpqError,
  isNatsError,
  isRefusedAnswer,
  keepWorking,
  limitResult,
  recordFailure,
  republishResult,
  ServerClients,
  SpanAttr,
  SpanKind,
  startCallSpan,
  startCall,
  toMcpqError,
  traceIdOf,
  WorkLoop,
  KeyedBudget,
  untilDeadline,
  withSpan,
  type SlotLease,
  type CallRecord,
  type CallRequest,
  type Era,
  type InitializedSession,
  type Logger,
  type Outcome,
  type RecordPatch,
  type ServerSession,
  type ServiceContext,
  type Span,
  type ToolCallIds,
  type Versioned,
} from '@mcpq/shared';
import { hostname } from 'node:os';
import type { JsMsg } from '@nats-io/jetstream';
import { ArgumentValidator } from './arguments.js';
import { claimCall, deadLetterSubmission, publishJoin } from './claim.js';
import { afterEraChange, planCall } from './era.js';
import { ExhaustedRequests } from './exhausted.js';
import { answerWindow, faultAfterAnswer, type WindowState } from './fast-path.js';
import { parseSubmission, type Intake } from './intake.js';

/** What the submitter found out about a request before claiming it (no NATS involved). */
type Plan =
  /** Ready to start: the record can be created with the first attempt in it. */
  | {
      kind: 'start';
      session: InitializedSession;
      mode: 'resume' | 'task';
      /** What the attempt writes besides itself (mode, idempotent, protocol). */
      patch: RecordPatch;
      first: { ids: ToolCallIds; patch: RecordPatch };
      /** The server's era, for `afterEraChange` when the dispatch fails. */
      era: Era | undefined;
    }
  /** Hold mode: the record can be created `dispatched`, for a joiner to make the call. */
  | { kind: 'hold'; patch: RecordPatch }
  /** The call cannot run: it ends with this outcome. */
  | { kind: 'refused'; outcome: Outcome }
  /** Reaching the server (or choosing the mode) failed: judged by failDispatch once the call is claimed. */
  | { kind: 'failed'; err: unknown };

export type SubmitterState = 'created' | 'running' | 'draining' | 'stopped';

export class Submitter {
  state: SubmitterState = 'created';
  private readonly loop: WorkLoop;
  private readonly exhausted: ExhaustedRequests;
  private readonly arguments: ArgumentValidator;
  private readonly servers: ServerClients;
  /** Calls this process is dispatching right now (a redelivery of one of them must wait, not judge it lost). */
  private readonly dispatching = new Set<string>();
  /** Dispatches per server alias (servers.<alias>.maxDispatching). */
  private readonly budget = new KeyedBudget((server) => this.ctx.config.servers[server]?.maxDispatching ?? 1);
  /** Aborted on stop: requests waiting for a server's budget go back to the queue. */
  private readonly stopping = new AbortController();
  readonly id = `${hostname()}-${process.pid}`;

  constructor(private readonly ctx: ServiceContext) {
    this.loop = new WorkLoop({
      name: 'submit',
      consumer: () => ctx.js.consumers.get(ctx.names.streams.submit, ctx.names.consumers.submitter),
      concurrency: ctx.config.submitter.concurrency,
      handle: (msg, lease) => this.handle(msg, lease),
      logger: ctx.logger,
      telemetry: ctx.telemetry,
    });
    this.exhausted = new ExhaustedRequests(ctx);
    this.servers = new ServerClients(ctx.config.servers, ctx.logger, ctx.config.limits);
    this.arguments = new ArgumentValidator(ctx.logger);
  }

  start(): void {
    this.state = 'running';
    this.loop.start();
    this.exhausted.start();
    this.ctx.logger.info({ concurrency: this.ctx.config.submitter.concurrency }, 'submitter running');
  }

  /** Stops taking requests and finishes the dispatches already started (bounded by `graceMs`). */
  async stop(graceMs: number): Promise<void> {
    this.state = 'draining';
    this.stopping.abort();
    await this.loop.stop();
    await this.exhausted.stop(Math.min(graceMs, 5_000));
    const left = await this.loop.drain(graceMs);
    if (left > 0) this.ctx.logger.warn({ left }, 'dispatches still running at the end of the grace period; JetStream will redeliver them');
    this.state = 'stopped';
  }

  get inFlight(): number {
    return this.loop.inFlight;
  }

  private async handle(msg: JsMsg, lease: SlotLease): Promise<void> {
    const startedAt = Date.now();
    const intake = parseSubmission(msg.subject, msg.data, this.ctx.names, this.ctx.config, msg.headers?.values('Nats-Msg-Id'));
    if (!intake.ok) return this.reject(msg, intake);
    const traceparent = msg.headers?.get('traceparent') || undefined;
    const traceId = traceIdOf(traceparent);
    const log = this.ctx.logger.child({
      callId: intake.request.callId,
      server: intake.server,
      tool: intake.request.tool,
      ...(traceId ? { traceId } : {}),
    });
    const serverSession = this.servers.session(intake.server);
    // One span per delivery of the request, child of the caller's traceparent (a no-op without an OpenTelemetry SDK).
    const span = startCallSpan(
      'mcpq dispatch',
      traceId ? traceparent : undefined,
      {
        [SpanAttr.callId]: intake.request.callId,
        [SpanAttr.server]: intake.server,
        [SpanAttr.tool]: intake.request.tool,
        [SpanAttr.delivery]: msg.info.deliveryCount,
      },
      SpanKind.CONSUMER,
    );
    // The deadline counts from when the request entered the queue; one already past is ended by dispatch().
    const deadline =
      intake.request.timeoutMs !== undefined ? Math.floor(msg.info.timestampNanos / 1e6) + intake.request.timeoutMs : undefined;
    // Waiting for the server's budget and planning may take a while: keep the request ours meanwhile.
    const stopKeepAlive = keepWorking(msg, Math.max(1_000, Math.floor(this.ctx.config.submitter.ackWaitMs / 3)));
    try {
      // Planning and dispatching talk to the server: both run inside the server's own budget.
      const giveBack = await this.serverBudget(intake.server, lease);
      if (!giveBack) {
        span.setAttribute(SpanAttr.outcome, 'stopping');
        return msg.nak(); // stopping: another submitter takes it
      }
      try {
        await withSpan(span, () =>
          this.planAndDispatch(
            msg,
            intake.server,
            intake.request,
            serverSession,
            deadline,
            log,
            startedAt,
            traceId ? traceparent : undefined,
            span,
            giveBack,
          ),
        );
      } finally {
        giveBack();
      }
    } catch (err) {
      recordFailure(span, err);
      throw err;
    } finally {
      stopKeepAlive();
      span.end();
    }
  }

  private async planAndDispatch(
    msg: JsMsg,
    server: string,
    request: CallRequest,
    serverSession: ServerSession,
    deadline: number | undefined,
    log: Logger,
    startedAt: number,
    traceparent: string | undefined,
    span: Span,
    releaseServer: () => void,
  ): Promise<void> {
    const plan = await this.plan(server, request, deadline);
    const startsAtOnce = deadline === undefined || Date.now() < deadline;
    const initial = !startsAtOnce ? undefined : plan.kind === 'start' ? plan.first.patch : plan.kind === 'hold' ? plan.patch : undefined;
    const record = await claimCall(this.ctx, { msg, server, request, log, traceparent, deadline, initial }, (callId) =>
      this.dispatching.has(callId),
    );
    if (!record) {
      span.setAttribute(SpanAttr.outcome, 'claimed-before');
      return msg.ack();
    }
    if ('retryInMs' in record) {
      span.setAttribute(SpanAttr.outcome, 'dispatch-in-progress');
      return msg.nak(record.retryInMs);
    }
    this.dispatching.add(request.callId);
    try {
      await this.dispatch(msg, record, serverSession, plan, request, log, startedAt, span, releaseServer);
    } finally {
      this.dispatching.delete(request.callId);
    }
  }

  /** Checks what can be checked before the claim: the era, the session, the tool, the arguments, the mode. Never throws. */
  private async plan(server: string, request: CallRequest, deadline: number | undefined): Promise<Plan> {
    let era: Era | undefined;
    try {
      // A hanging server must not hold this call past its deadline (the shared session goes on opening for the others).
      const call = await untilDeadline(
        planCall(this.servers, server, this.ctx.config.servers[server]!.mode, request.tool, (e) => (era = e)),
        deadline,
        `opening a session with ${server} and listing its tools`,
      );
      const tool = call.tool;
      if (!tool) {
        return {
          kind: 'refused',
          outcome: {
            status: 'failed',
            error: { code: ErrorCode.unknown_tool, message: `server ${server} has no tool named "${request.tool}" (checked tools/list)` },
          },
        };
      }
      const problem = this.arguments.check(tool, request.arguments ?? {});
      if (problem) {
        return {
          kind: 'refused',
          outcome: {
            status: 'failed',
            error: {
              code: ErrorCode.invalid_arguments,
              message: `arguments do not match the inputSchema of ${server}/${request.tool}: ${problem}`,
            },
          },
        };
      }
      const mode = call.mode(tool);
      const idempotent = request.idempotent === true || tool.annotations?.idempotentHint === true;
      const { protocol, session } = call;
      if (mode === 'hold' || !session) {
        // Nothing is sent here: a joiner makes the call (hold mode; and every 2026-07-28 call, which closing its stream would cancel).
        return { kind: 'hold', patch: { status: 'dispatched', mode, idempotent, protocol, dispatchedAt: new Date().toISOString() } };
      }
      return {
        kind: 'start',
        session,
        mode,
        patch: { mode, idempotent, protocol },
        first: attemptFields(request.callId, 1, { owner: this.id, session, patch: { mode, idempotent, protocol } }),
        era,
      };
    } catch (err) {
      return { kind: 'failed', err: afterEraChange(this.servers, server, era, err) };
    }
  }

  /**
   * Waits for room in the server's own dispatch budget (servers.<alias>.maxDispatching).
   * A request that has to wait gives its shared slot back first, so a server
   * that hangs holds only its own budget and other servers' calls go on.
   * Undefined when the submitter stops meanwhile.
   */
  private async serverBudget(server: string, lease: SlotLease): Promise<(() => void) | undefined> {
    if (!this.budget.hasRoom(server)) lease.release();
    try {
      return await this.budget.take(server, this.stopping.signal);
    } catch {
      return undefined;
    }
  }

  private async dispatch(
    msg: JsMsg,
    record: Versioned<CallRecord>,
    serverSession: ServerSession,
    plan: Plan,
    request: CallRequest,
    log: Logger,
    startedAt: number,
    span: Span,
    /** Gives the server's dispatch budget back early (idempotent): once tools/call is started, the answer window is reading, not dispatching. */
    releaseServer: () => void,
  ): Promise<void> {
    const { store, events, config } = this.ctx;
    let current = record;
    if (current.value.deadline !== undefined && Date.now() >= current.value.deadline && current.value.status === 'accepted') {
      span.setAttribute(SpanAttr.outcome, 'finished');
      const last = current.value.lastError;
      await finishCall(store, events, current, {
        status: 'timeout',
        error: {
          code: ErrorCode.timeout,
          message: `the call's deadline (timeoutMs ${request.timeoutMs}) passed before it was dispatched${last ? `; last failure: ${last.message}` : ''}`,
          ...(last ? { data: { cause: last } } : {}),
        },
      });
      return msg.ack();
    }
    try {
      if (plan.kind === 'failed') throw plan.err;
      if (plan.kind === 'refused') {
        span.setAttribute(SpanAttr.outcome, 'finished');
        await finishCall(store, events, current, plan.outcome);
        return msg.ack();
      }
      if (plan.kind === 'hold') {
        // Created `dispatched` by the claim, or (a redelivery found it accepted) moved there now.
        if (current.value.status !== 'dispatched') current = await store.update(current, plan.patch);
        return await this.handOff(msg, current, request, log, startedAt, span);
      }
      const { session, mode } = plan;
      span.setAttribute(SpanAttr.mode, mode);
      let ids: ToolCallIds;
      if (current.value.status === 'dispatching') {
        // The claim created the record with the first attempt in it.
        ids = plan.first.ids;
      } else {
        const begun = await beginAttempt(store, current, {
          owner: this.id,
          session,
          patch: plan.patch,
          boundMs: config.submitter.dispatchTimeoutMs,
        });
        current = begun.current;
        ids = begun.ids;
      }
      const serverConfig = config.servers[current.value.server]!;
      const window: WindowState = { current, onStreamOpen: releaseServer };
      let patch: RecordPatch;
      try {
        const started = await startCall(serverSession.client, session, mode, ids, request.callId, request, {
          timeoutMs: config.submitter.dispatchTimeoutMs,
          taskTtlMs: serverConfig.taskTtlMs,
          traceparent: hopTraceparent(span, current.value.traceparent),
          window: answerWindow(this.ctx, window, serverSession.client, session, config.submitter.dispatchTimeoutMs),
        });
        current = window.current;
        if (started.kind === 'finished') {
          faultAfterAnswer();
          // Even after a failure in the window, the record's compare-and-set decides whether this answer is the result.
          span.setAttributes({ [SpanAttr.outcome]: 'finished', [SpanAttr.attempt]: current.value.attempts });
          return await this.finishedAtOnce(msg, current, started.outcome, log);
        }
        patch = started.patch;
        if (window.failure) {
          if (isMcpqError(window.failure, ErrorCode.record_conflict)) return await this.lostDuringDispatch(msg, current, patch, log);
          throw window.failure;
        }
      } catch (err) {
        if (err instanceof DispatchError && err.error.code === ErrorCode.session_lost) await serverSession.invalidate(session);
        throw err;
      }
      try {
        // The call runs upstream now: recording its token must outlast a NATS outage (keepWorking holds the request meanwhile), or it ends outcome_unknown.
        current = await store.updateThroughOutage(
          current,
          { ...patch, status: 'dispatched', dispatchedAt: new Date().toISOString() },
          config.submitter.dispatchTimeoutMs,
        );
      } catch (err) {
        if (isMcpqError(err, ErrorCode.record_conflict)) return await this.lostDuringDispatch(msg, current, patch, log);
        throw err;
      }
      await this.handOff(msg, current, request, log, startedAt, span);
    } catch (err) {
      const era = plan.kind === 'start' ? plan.era : undefined;
      await this.failDispatch(msg, current, afterEraChange(this.servers, current.value.server, era, err), log, span);
    }
  }

  /** The server answered tools/call with the final result right away: no hand-off needed. */
  private async finishedAtOnce(msg: JsMsg, current: Versioned<CallRecord>, outcome: Outcome, log: Logger): Promise<void> {
    // The tool has run: ride out a short NATS outage (as the joiner's finish does), or a request
    // redelivered meanwhile would find the call `dispatching` and end it outcome_unknown. A write whose
    // answer was lost is recognised as ours (finishCall): a nak then, on the last delivery, would leave
    // the result unpublished.
    await finishCall(this.ctx.store, this.ctx.events, current, limitResult(outcome, this.ctx.config.limits.maxResultBytes), {
      throughOutageMs: this.ctx.config.submitter.dispatchTimeoutMs,
    });
    msg.ack();
    // Logged once the result is out, so that writing the line does not delay it.
    log.info({ status: outcome.status }, 'call finished before it could be detached');
  }

  /** Records are in place: publish the join, then the status, then let the request go. */
  private async handOff(
    msg: JsMsg,
    current: Versioned<CallRecord>,
    request: CallRequest,
    log: Logger,
    startedAt: number,
    span: Span,
  ): Promise<void> {
    const rec = current.value;
    const mode = rec.mode ?? 'resume';
    span.setAttributes({ [SpanAttr.outcome]: 'dispatched', [SpanAttr.mode]: mode, [SpanAttr.attempt]: rec.attempts });
    // The status first: once the join is out a joiner may publish `running`, which must come after it.
    await this.ctx.events.status(rec.callId, 'dispatched', {
      mode,
      attempt: rec.attempts,
      traceparent: rec.traceparent,
      protocol: rec.protocol,
    });
    await publishJoin(this.ctx, rec, mode, request);
    msg.ack();
    this.ctx.telemetry.emit('call:dispatched', {
      callId: rec.callId,
      server: rec.server,
      tool: rec.tool,
      mode,
      latencyMs: Date.now() - startedAt,
    });
    log.info({ mode: rec.mode, protocol: rec.protocol, attempt: rec.attempts, sessionId: rec.sessionId }, 'call dispatched');
  }

  /**
   * The call was started upstream but the record changed meanwhile: a cancel
   * (or deadline) ended it. The canceller could not reach the upstream call
   * (it had no task id or token yet), so stop it here.
   */
  private async lostDuringDispatch(msg: JsMsg, started: Versioned<CallRecord>, patch: RecordPatch, log: Logger): Promise<void> {
    const now = await this.ctx.store.get(started.value.callId);
    if (now && this.ctx.store.isTerminal(now)) {
      log.info({ status: now.value.status }, 'call ended while it was being dispatched; cancelling it upstream');
      await cancelUpstream(
        this.servers.session(started.value.server).client,
        { ...started.value, ...patch },
        `mcpq: call ${now.value.status}`,
        log,
      );
      return msg.ack();
    }
    msg.nak();
  }

  /**
   * A dispatch failed. Decide: retry later (nothing ran, or the tool is
   * idempotent), or end the call with the error (outcome_unknown when the
   * request may have reached the server).
   */
  private async failDispatch(msg: JsMsg, current: Versioned<CallRecord>, err: unknown, log: Logger, span: Span): Promise<void> {
    const { store, events, config } = this.ctx;
    recordFailure(span, err, isMcpqError(err) ? err.code : err instanceof DispatchError ? err.error.code : undefined);
    span.setAttribute(SpanAttr.attempt, current.value.attempts);
    if (isMcpqError(err, ErrorCode.record_conflict)) {
      // Someone else (a cancel) changed the record: look again on the next delivery.
      log.info('call record changed during dispatch; re-reading');
      return msg.nak();
    }
    if (isNatsError(err)) {
      // mcpq's own infrastructure failed, not the MCP server: the next delivery continues from the record.
      log.warn({ err: describeError(err) }, 'NATS failed during dispatch; will retry');
      return msg.nak(backoffDelay(msg.info.deliveryCount, config.submitter.retryBaseMs, config.submitter.retryMaxMs));
    }
    const reached = err instanceof DispatchError ? err.reached : 'no';
    const error = err instanceof DispatchError ? err.error : toMcpqError(err);
    log.debug({ err: describeError(err), reached, stack: err instanceof Error ? err.stack : undefined }, 'dispatch failed');
    const sent = current.value.status === 'dispatching';
    const retryable = error.retryable || error.code === ErrorCode.session_lost;
    const deliveries = msg.info.deliveryCount;
    const verdict = decideRerun({
      idempotent: current.value.idempotent,
      sent: sent ? reached : 'no',
      transient: retryable,
      attemptsLeft: deliveries < config.submitter.maxDeliver,
      answered: isRefusedAnswer(error),
    });
    span.setAttribute(SpanAttr.outcome, verdict.verdict === 'rerun' ? 'retry' : 'failed');
    if (verdict.verdict === 'outcome_unknown') {
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
    // Every try to reach the server counts as an attempt (a dispatch that got as far as sending has counted already).
    if (sent || retryable) {
      current = await store.update(current, {
        status: 'accepted',
        lastError: error.toWire(),
        ...(sent ? {} : { attempts: current.value.attempts + 1 }),
      });
    }
    if (verdict.verdict === 'rerun') {
      const backoff = Math.max(
        error.retryAfterMs ?? 0,
        backoffDelay(deliveries, config.submitter.retryBaseMs, config.submitter.retryMaxMs),
      );
      // Never wait past the deadline: the next delivery ends the call `timeout` on time.
      const deadline = current.value.deadline;
      const delay = deadline !== undefined ? Math.max(0, Math.min(backoff, deadline - Date.now())) : backoff;
      log.warn({ err: describeError(error), deliveries, retryInMs: delay }, 'dispatch failed; will retry');
      this.ctx.telemetry.emit('call:retry', {
        callId: current.value.callId,
        server: current.value.server,
        stage: 'dispatch',
        code: error.code,
      });
      await events.status(current.value.callId, 'queued', {
        detail: `retrying in ${delay} ms: ${error.message}`,
        attempt: current.value.attempts,
        key: `retry${deliveries}`,
      });
      return msg.nak(delay);
    }
    const outcome: Outcome = {
      status: 'failed',
      error: verdict.gaveUp
        ? {
            code: ErrorCode.server_unreachable,
            message: `gave up after ${deliveries} attempts: ${error.message}`,
            data: { cause: error.toWire() },
          }
        : error.toWire(),
    };
    log.warn({ err: describeError(error), deliveries }, 'dispatch failed; call ends failed');
    await finishCall(store, events, current, outcome);
    msg.ack();
  }

  /** Rejected input: a failed result when the callId is usable and free, else a dead letter. */
  private async reject(msg: JsMsg, intake: Extract<Intake, { ok: false }>): Promise<void> {
    const { store, events, logger } = this.ctx;
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
    const message = intake.callId
      ? `${intake.message} (callId ${intake.callId} is already in use, so no result was published)`
      : intake.message;
    await deadLetterSubmission(this.ctx, msg, intake.code, message, intake.callId);
    msg.ack();
  }
}

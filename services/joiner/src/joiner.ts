/**
 * The joiner: takes join messages (one per dispatched call, shared by all
 * joiners), claims the call in KV, follows it upstream in its mode and
 * publishes progress and the one result. From the moment it takes a join
 * until it settles it (ack, nak) it keeps the message alive with working();
 * when there is nothing to wait on it parks the join (nak with a delay) and
 * holds nothing. If it dies,
 * JetStream redelivers the join and another joiner continues from KV.
 *
 * How a call is followed (one file per mode) lives in ./follow; this class
 * takes, settles and acks joins. Its second job is answering cancel
 * requests (./cancel-requests.ts).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import {
  backoffDelay,
  cancelUpstream,
  clipText,
  describeError,
  ErrorCode,
  finishCall,
  isMcpqError,
  joinRideOutMs,
  JoinMessageSchema,
  lazyChild,
  limitResult,
  recordRefreshAfterMs,
  mayRunUpstream,
  publishDeadLetter,
  recordFailure,
  recordOutcome,
  republishResult,
  retryWhileNatsFails,
  ServerClients,
  SpanAttr,
  SpanKind,
  startCallSpan,
  traceIdOf,
  withSpan,
  WorkLoop,
  type CallRecord,
  type JoinMessage,
  type Logger,
  type Mode,
  serverOfSubject,
  type Outcome,
  type ServiceContext,
  type Span,
  type Versioned,
} from '@mcpq/shared';
import type { JsMsg } from '@nats-io/jetstream';
import { CancelRequests } from './cancel-requests.js';
import {
  CallWatch,
  followCall,
  interruptedRedispatch,
  joinerHoldsCall,
  justCreatedTask,
  type Disposition,
  type StopReason,
  type TaskToWatch,
} from './follow/index.js';
import { TaskStatusCues } from './parked/status-cues.js';
import { TaskWatcher, type WatchedTask } from './parked/task-watcher.js';

export type JoinerState = 'created' | 'running' | 'draining' | 'stopped';

/** Failures in a row handling one join (mcpq's own errors) before the call ends `internal`. */
const MAX_JOIN_FAILURES = 10;

/** A join taken and its call claimed: what following the call needs. */
interface Claimed {
  join: JoinMessage;
  record: Versioned<CallRecord>;
  mode: Mode;
  log: Logger;
}

export class Joiner {
  readonly id: string;
  state: JoinerState = 'created';
  private readonly loop: WorkLoop;
  private readonly cancels: CancelRequests;
  /** MCP clients for the cancel service and re-dispatch, and this joiner's own sessions (hold mode, re-dispatch). */
  private readonly servers: ServerClients;
  /** Calls this joiner follows right now, by callId: their watches. */
  private readonly active = new Map<string, CallWatch>();
  /**
   * Every join this joiner handles right now, from the moment it is taken until its handler
   * returns: each is kept alive by the sweep's heartbeat, so no JetStream request on the way (a
   * claim, a call's end ridden out through NATS failing, a cancel sent upstream at the deadline)
   * lets AckWait hand it to another joiner meanwhile. A settled one is not: nats.js sends nothing
   * for working() once a message was acked or nakked.
   */
  private readonly taken = new Set<JsMsg>();
  /** The one timer of every taken join and followed call: heartbeats and the idle rule (see sweep()). */
  private sweeper?: NodeJS.Timeout | undefined;
  /** How many of those belong to each server (servers.<alias>.maxInFlight). */
  private readonly activeByServer = new Map<string, number>();
  /** Watches the task calls this joiner parked for a lease, and wakes them when their task moves (./parked). */
  private readonly watcher: TaskWatcher;
  /** Task statuses passed between joiners (joiner.shareTaskStatus): what this joiner's streams hear goes out, others' come in. */
  private readonly cues: TaskStatusCues | undefined;

  constructor(private readonly ctx: ServiceContext) {
    this.servers = new ServerClients(ctx.config.servers, ctx.logger, ctx.config.limits);
    this.id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.loop = new WorkLoop({
      name: 'join',
      consumer: () => ctx.js.consumers.get(ctx.names.streams.join, ctx.names.consumers.joiner),
      concurrency: ctx.config.joiner.maxInFlight,
      handle: (msg) => this.holding(msg, () => this.handle(msg)),
      logger: ctx.logger,
      maxFailures: MAX_JOIN_FAILURES,
      giveUp: (msg, err) => this.holding(msg, () => this.giveUp(msg, err)),
      telemetry: ctx.telemetry,
    });
    this.watcher = new TaskWatcher({
      config: ctx.config,
      logger: ctx.logger,
      telemetry: ctx.telemetry,
      client: (server) => this.servers.client(server),
      modern: (server) => this.servers.modern(server),
      capabilities: async (server) => (await this.servers.session(server).session()).capabilities,
      // A second nak of a delivery parked with a delay: JetStream redelivers it at once (or after the
      // new delay), whichever joiner pulls (checked on nats-server 2.9.10).
      wake: (ackSubject, delayMs) => ctx.nc.publish(ackSubject, delayMs > 0 ? `-NAK {"delay": ${delayMs * 1_000_000}}` : '-NAK'),
      passOn: (server, session, taskId, status, message) => this.cues?.publish(server, session, taskId, status, message),
    });
    this.cues = ctx.config.joiner.shareTaskStatus
      ? new TaskStatusCues(ctx, this.id, (server, cue) => this.watcher.cue(server, cue))
      : undefined;
    this.cancels = new CancelRequests(
      ctx,
      (server) => (ctx.config.servers[server] ? this.servers.client(server) : undefined),
      (callId) => void this.onCancelHint(callId),
    );
  }

  /**
   * A cancel hint says another process ended a call. Anyone able to publish
   * on the control subject can send one, so the joiner stops following the
   * call only when its record says it has ended.
   */
  private async onCancelHint(callId: string): Promise<void> {
    const watch = this.active.get(callId);
    if (!watch) return;
    try {
      // Sent after the record ended: a record not ended here is asked again of the leader (a replica may lag).
      const record = await this.ctx.store.getSure(callId, (read) => !read || !this.ctx.store.isTerminal(read));
      if (record && this.ctx.store.isTerminal(record)) watch.stop({ kind: 'ended-elsewhere' });
      else this.ctx.logger.warn({ callId }, 'a cancel hint for a call whose record has not ended: ignored');
    } catch (err) {
      this.ctx.logger.warn({ callId, err: describeError(err) }, 'could not check a cancel hint against the record: ignored');
    }
  }

  /** Join messages being handled right now. */
  get inFlight(): number {
    return this.loop.inFlight;
  }

  /** Calls whose stream or request this joiner holds right now (the mcpq_calls_held gauge); parked calls are not held. */
  get held(): number {
    return this.active.size;
  }

  /** Parked task-mode calls the task watcher watches now, by server (the mcpq_tasks_watched gauge). */
  watchedByServer(): Map<string, number> {
    return this.watcher.watchedByServer();
  }

  start(): void {
    this.state = 'running';
    this.watcher.start();
    this.cues?.start();
    this.cancels.start();
    this.sweeper = setInterval(() => this.sweep(), this.ctx.config.joiner.heartbeatMs);
    this.loop.start();
    this.ctx.logger.info({ joinerId: this.id, maxInFlight: this.ctx.config.joiner.maxInFlight }, 'joiner running');
  }

  /**
   * Stops pulling and hands every followed call back at once (nak without
   * delay), so another joiner resumes it from the token in KV. Hold-mode
   * calls cannot move: they are given until `graceMs` to finish.
   */
  async stop(graceMs: number): Promise<void> {
    this.state = 'draining';
    await this.loop.stop();
    // Parked task calls would come back at their lease end; woken, another joiner takes them much sooner.
    // Not at once: this joiner's last pull request stays on the server until it expires, and a
    // redelivery handed to it is mishandled by nats-server 2.9.10 (see WorkLoop.pullExpiresMs).
    this.cues?.stop();
    const woken = this.watcher.stop(this.loop.pullExpiresMs + 1_000);
    if (woken > 0) this.ctx.logger.info({ woken }, 'parked task calls handed back (shutdown)');
    for (const watch of this.active.values()) watch.stop({ kind: 'shutdown' });
    const left = await this.loop.drain(graceMs);
    // Only now: calls held through the grace period kept their heartbeats.
    clearInterval(this.sweeper);
    if (left > 0) this.ctx.logger.warn({ left }, 'calls still held at the end of the grace period (hold mode); they will be redelivered');
    await this.cancels.stop();
    await this.servers.close();
    this.state = 'stopped';
  }

  /**
   * Every joiner.heartbeatMs: tells JetStream each join taken is still
   * being worked on (so AckWait does not redeliver it) and stops the calls
   * idle for joiner.idleTimeoutMs. One timer for all calls instead of two
   * per call: thousands of held calls then cost no timer each.
   */
  private sweep(): void {
    const now = Date.now();
    for (const msg of this.taken) {
      try {
        msg.working();
      } catch {
        // Disconnected: the next sweep tries again; AckWait decides if the call moves on.
      }
    }
    for (const watch of this.active.values()) watch.sweep(now);
  }

  /** Runs the work on a join taken, keeping the join alive (the sweep's heartbeats) until it ends. */
  private async holding(msg: JsMsg, work: () => Promise<void>): Promise<void> {
    this.taken.add(msg);
    try {
      await work();
    } finally {
      this.taken.delete(msg);
    }
  }

  private async handle(msg: JsMsg): Promise<void> {
    const startedAt = Date.now();
    // In two steps: the records read on the way to the claim are then not kept
    // (in this suspended function's frame) for as long as the call is followed.
    const claimed = await this.takeJoin(msg);
    if (claimed) await this.followInSpan(msg, claimed, startedAt);
  }

  /** Follows a claimed call inside one "mcpq rejoin" span (a takeover is a new delivery: a new span in the same trace). */
  private async followInSpan(msg: JsMsg, claimed: Claimed, startedAt: number): Promise<void> {
    const { join, record, mode } = claimed;
    const span = startCallSpan(
      'mcpq rejoin',
      record.value.traceparent,
      {
        [SpanAttr.callId]: join.callId,
        [SpanAttr.server]: record.value.server,
        [SpanAttr.tool]: record.value.tool,
        [SpanAttr.mode]: mode,
        [SpanAttr.attempt]: record.value.attempts,
        [SpanAttr.delivery]: msg.info.deliveryCount,
        [SpanAttr.joinerId]: this.id,
      },
      SpanKind.CONSUMER,
    );
    try {
      await withSpan(span, () => this.followTracked(msg, claimed, startedAt, span));
    } catch (err) {
      recordFailure(span, err);
      throw err;
    } finally {
      span.end();
    }
  }

  /**
   * Reads the join's call and settles what needs no following (ended,
   * unknown server, past its deadline, server at maxInFlight, claim lost);
   * returns what following it needs otherwise.
   */
  private async takeJoin(msg: JsMsg): Promise<Claimed | undefined> {
    const join = this.parseJoin(msg);
    if (!join) return;
    // This delivery is the call now: a watcher entry of an earlier one must not wake it again.
    const watched = this.watcher.take(join.callId);
    // A join is published after its record's writes: a record missing here is a lagging replica's
    // answer (asked again of the leader), or really gone.
    const found = await this.ctx.store.getSure(join.callId, (read) => read === null);
    if (!found) {
      await this.deadLetter(msg, ErrorCode.internal, `join for call ${join.callId}, which has no record in KV`, join.callId);
      return;
    }
    const traceId = traceIdOf(found.value.traceparent);
    const { callId, server: joinServer, mode: joinMode } = join;
    const delivery = msg.info.deliveryCount;
    // Made on the first line written: a held call keeps no logger of its own meanwhile.
    const log = lazyChild(this.ctx.logger, () => ({
      callId,
      server: joinServer,
      mode: joinMode,
      delivery,
      ...(traceId ? { traceId } : {}),
    }));
    if (this.ctx.store.isTerminal(found)) {
      await republishResult(this.ctx.events, found.value);
      msg.ack();
      return;
    }
    if (!this.ctx.config.servers[found.value.server]) {
      const error = { code: ErrorCode.unknown_server, message: `server "${found.value.server}" is not in this joiner's config` };
      await this.finish(msg, found, { status: 'failed', error }, log);
      return;
    }
    if (found.value.deadline !== undefined && Date.now() >= found.value.deadline) {
      await this.stopped(msg, { kind: 'deadline' }, found, log);
      return;
    }
    const server = found.value.server;
    if ((this.activeByServer.get(server) ?? 0) >= this.ctx.config.servers[server]!.maxInFlight) {
      // This joiner follows as many calls of this server as it may: let another joiner (or a later delivery) take it.
      this.park(msg, join.callId, this.ctx.config.joiner.parkDelayMs, found.value.deadline);
      return;
    }
    const mode = found.value.mode ?? join.mode;
    if (watched && mode === 'task' && (await this.renewLease(msg, found, watched))) return;
    // Read before the claim, which makes the record `running`.
    const justCreated = mode === 'task' && this.watcher.active ? justCreatedTask(this.ctx, found.value, Date.now()) : undefined;
    const record = await this.claim(found, mode);
    if (!record) {
      msg.nak(250); // someone wrote in between: look again shortly
      return;
    }
    if (justCreated) {
      // A task the submitter has just created: watched at once, no tasks/get (see justCreatedTask).
      this.lease(msg, callId, justCreated, justCreated.pollMs, record.value.deadline);
      return;
    }
    return { join, record, mode, log };
  }

  /**
   * Claims the call (status `running`, this joiner the owner), unless it is
   * already running and this joiner owns it (a parked call coming back), or it
   * is a task between polls (each poll is brief; any later write is
   * compare-and-set), or a call the joiner sends itself (hold mode, a 2026-07-28
   * call without a task yet) or an interrupted re-dispatch (the follower
   * records its own attempt). Undefined when another process wrote in between.
   */
  private async claim(read: Versioned<CallRecord>, mode: Mode): Promise<Versioned<CallRecord> | undefined> {
    let record: Versioned<CallRecord>;
    let found: Versioned<CallRecord>;
    try {
      // Each delivery of a live call keeps its record from expiring while the call is quiet.
      found = await this.ctx.store.refresh(read, recordRefreshAfterMs(this.ctx.config));
    } catch (err) {
      if (!isMcpqError(err, ErrorCode.record_conflict)) throw err;
      return undefined;
    }
    if (joinerHoldsCall(mode, found.value) || interruptedRedispatch(mode, found.value)) return found;
    if (found.value.status === 'running' && (found.value.owner === this.id || mode === 'task')) return found;
    try {
      record = await this.ctx.store.update(found, { status: 'running', owner: this.id });
    } catch (err) {
      if (!isMcpqError(err, ErrorCode.record_conflict)) throw err;
      return undefined;
    }
    if (found.value.status !== 'running')
      await this.ctx.events.status(found.value.callId, 'running', {
        mode,
        attempt: record.value.attempts,
        traceparent: record.value.traceparent,
        protocol: record.value.protocol,
      });
    return record;
  }

  /**
   * Follows the call with a CallWatch (deadline, idle, stop), counting it
   * toward the server's maxInFlight, then settles the join.
   */
  private async followTracked(msg: JsMsg, claimed: Claimed, startedAt: number, span: Span): Promise<void> {
    const { join, record, mode, log } = claimed;
    const server = record.value.server;
    const watch = new CallWatch(
      mode === 'resume' ? this.ctx.config.joiner.idleTimeoutMs : undefined,
      record.value.deadline,
      joinerHoldsCall(mode, record.value),
    );
    this.active.get(join.callId)?.stop({ kind: 'superseded' });
    this.active.set(join.callId, watch);
    this.activeByServer.set(server, (this.activeByServer.get(server) ?? 0) + 1);
    try {
      if (this.state !== 'running') watch.stop({ kind: 'shutdown' });
      const disposition = await followCall(
        {
          ctx: this.ctx,
          client: this.servers.client(server),
          watch,
          startedAt,
          sessions: this.servers.session(server),
          modern: this.servers.modern(server),
          joinerId: this.id,
          request: join.request,
          log,
          span,
        },
        record,
        mode,
      );
      describeDisposition(span, disposition);
      await this.settle(msg, join.callId, disposition, log, record.value.deadline);
    } finally {
      watch.dispose();
      if (this.active.get(join.callId) === watch) this.active.delete(join.callId);
      this.activeByServer.set(server, (this.activeByServer.get(server) ?? 1) - 1);
    }
  }

  /** Turns what following came to into ack / nak / a final result. */
  private async settle(msg: JsMsg, callId: string, d: Disposition, log: Logger, deadline: number | undefined): Promise<void> {
    switch (d.kind) {
      case 'outcome':
        return this.finish(msg, d.record, d.outcome, log);
      case 'park':
        log.debug({ delayMs: d.delayMs, why: d.why }, 'call parked');
        return d.task && this.watcher.active
          ? this.lease(msg, callId, d.task, d.delayMs, deadline)
          : this.park(msg, callId, d.delayMs, deadline);
      case 'retry':
        return this.retry(msg, callId, d, log, deadline);
      case 'lost':
        return this.lost(msg, callId, log);
      case 'stopped':
        return this.stopped(msg, d.reason, d.record, log);
    }
  }

  /** A transient failure: back off and try again, unless the server has failed too often in a row. */
  private async retry(
    msg: JsMsg,
    callId: string,
    d: Extract<Disposition, { kind: 'retry' }>,
    log: Logger,
    deadline: number | undefined,
  ): Promise<void> {
    const { joiner } = this.ctx.config;
    let failures = 0;
    if (d.record) {
      failures = (d.record.value.rejoinFailures ?? 0) + 1;
      if (failures >= joiner.maxRejoinFailures) {
        const error = {
          code: ErrorCode.server_unreachable,
          message: `the MCP server could not be reached to rejoin the call ${failures} times in a row: ${d.error.message}`,
          data: { cause: d.error.toWire() },
        };
        return this.finish(msg, d.record, { status: 'failed', error }, log);
      }
      try {
        await this.ctx.store.update(d.record, { rejoinFailures: failures, lastError: d.error.toWire() });
      } catch (err) {
        if (isMcpqError(err, ErrorCode.record_conflict)) return this.lost(msg, callId, log);
        throw err;
      }
    }
    const delay = Math.max(d.error.retryAfterMs ?? 0, backoffDelay(Math.max(1, failures), joiner.retryBaseMs, joiner.retryMaxMs));
    log.warn({ err: describeError(d.error), failures, retryInMs: delay }, 'rejoin failed; will retry');
    this.ctx.telemetry.emit('call:retry', { callId, server: serverOfSubject(msg.subject), stage: 'rejoin', code: d.error.code });
    return this.park(msg, callId, delay, deadline);
  }

  private async stopped(msg: JsMsg, reason: StopReason, record: Versioned<CallRecord>, log: Logger): Promise<void> {
    switch (reason.kind) {
      case 'shutdown':
        log.info('handing the call back (shutdown)');
        return msg.nak();
      case 'idle':
        log.debug('stream idle; parking');
        return this.park(msg, record.value.callId, this.ctx.config.joiner.parkDelayMs, record.value.deadline);
      case 'ended-elsewhere':
        // The record decides (lost() reads it again): ack only a call that has ended.
        return this.lost(msg, record.value.callId, log);
      case 'superseded':
        log.info('a newer delivery of this call took over; letting go');
        return;
      case 'deadline': {
        const rec = record.value;
        const sent = mayRunUpstream(rec);
        if (sent) await cancelUpstream(this.servers.client(rec.server), rec, 'mcpq: deadline passed', log);
        const outcome: Outcome = {
          status: 'timeout',
          error: {
            code: ErrorCode.timeout,
            message: `the call passed its deadline (timeoutMs)${sent ? '; it was cancelled upstream' : ''}`,
          },
        };
        return this.finish(msg, record, outcome, log);
      }
    }
  }

  /** Parks the join (nak with a delay), but never past the call's deadline, so the deadline is met on time. */
  private park(msg: JsMsg, callId: string, delayMs: number, deadline: number | undefined): void {
    const untilDeadline = deadline !== undefined ? Math.max(0, deadline - Date.now()) : Number.POSITIVE_INFINITY;
    const delay = Math.min(delayMs, untilDeadline);
    this.ctx.telemetry.emit('call:parked', { callId, server: serverOfSubject(msg.subject), delayMs: delay });
    msg.nak(delay);
  }

  /**
   * Parks a task call for a lease (joiner.parkLeaseMs, at least its poll delay, never past its
   * deadline) and lets the task watcher wake it as soon as its task moves. A lease no longer than
   * the poll delay (a server asking for polls parkLeaseMs or more apart, or the deadline near) is
   * watched too: the watcher does not poll it (its poll is the redelivery's, at the lease end), but
   * a notification or a tasks/list sweep of its session wakes it before.
   */
  private lease(msg: JsMsg, callId: string, task: TaskToWatch, pollDelayMs: number, deadline: number | undefined): void {
    const untilDeadline = deadline !== undefined ? Math.max(0, deadline - Date.now()) : Number.POSITIVE_INFINITY;
    const lease = Math.min(Math.max(pollDelayMs, this.ctx.config.joiner.parkLeaseMs), untilDeadline);
    const ackSubject = ackSubjectOf(msg);
    const watched =
      ackSubject !== undefined &&
      lease > 0 &&
      this.watcher.watch(callId, serverOfSubject(msg.subject), task, ackSubject, Date.now() + lease);
    // Not watched (the deadline is here, or no watcher for it): back after the poll delay (park keeps to the deadline).
    this.park(msg, callId, watched ? lease : pollDelayMs, deadline);
  }

  /**
   * A parked task call's lease ended and its join came back to the joiner that
   * watches it, which has seen nothing worth following (a change would have
   * woken it): renew the lease without asking the server. The record is kept
   * from expiring, as on every delivery. False when the entry or the record
   * says otherwise (polls failing, another task or state, the deadline near):
   * the delivery is then followed as usual.
   */
  private async renewLease(msg: JsMsg, found: Versioned<CallRecord>, watched: WatchedTask): Promise<boolean> {
    const rec = found.value;
    const ackSubject = ackSubjectOf(msg);
    if (
      !ackSubject ||
      watched.failures > 0 ||
      rec.status !== 'running' ||
      rec.taskId !== watched.taskId ||
      rec.taskStatus !== watched.status ||
      rec.taskStatusMessage !== watched.message
    ) {
      return false;
    }
    const untilDeadline = rec.deadline !== undefined ? Math.max(0, rec.deadline - Date.now()) : Number.POSITIVE_INFINITY;
    const lease = Math.min(this.ctx.config.joiner.parkLeaseMs, untilDeadline);
    if (lease <= watched.pollMs) return false;
    try {
      await this.ctx.store.refresh(found, recordRefreshAfterMs(this.ctx.config));
    } catch (err) {
      if (!isMcpqError(err, ErrorCode.record_conflict)) throw err;
      return false; // written meanwhile: follow it as usual
    }
    if (!this.watcher.restore(watched, ackSubject, Date.now() + lease)) return false;
    this.park(msg, rec.callId, lease, rec.deadline);
    return true;
  }

  /** A compare-and-set failed: ack if the call has ended, otherwise leave the message to its current owner. */
  private async lost(msg: JsMsg, callId: string, log: Logger): Promise<void> {
    // Someone else wrote: what they wrote decides, so it is asked of the leader when a replica says the call goes on.
    const rec = await this.ctx.store.getSure(callId, (read) => !read || !this.ctx.store.isTerminal(read));
    if (rec && this.ctx.store.isTerminal(rec)) {
      // Possibly ended by this very joiner, whose write went through while its answer was lost: publish
      // the kept result (deduplicated) before letting go, so it is never missing.
      await republishResult(this.ctx.events, rec.value);
      log.info({ status: rec.value.status }, 'the call has ended; letting go');
      return msg.ack();
    }
    log.info({ owner: rec?.value.owner }, 'another joiner took the call over; letting go');
  }

  /** Ends the call with compare-and-set; a lost race means someone else ended it, which is fine. */
  private async finish(msg: JsMsg, record: Versioned<CallRecord>, upstream: Outcome, log: Logger): Promise<void> {
    const outcome = limitResult(upstream, this.ctx.config.limits.maxResultBytes);
    try {
      // Ride out a short NATS outage: for a held call, giving up here would make its outcome unknown.
      await finishCall(this.ctx.store, this.ctx.events, record, outcome, { throughOutageMs: joinRideOutMs(this.ctx) });
      log.info({ status: outcome.status, code: outcome.error?.code }, 'call finished');
      msg.ack();
    } catch (err) {
      if (!isMcpqError(err, ErrorCode.record_conflict)) throw err;
      await this.lost(msg, record.value.callId, log);
    }
  }

  /**
   * Handling this join failed MAX_JOIN_FAILURES times in a row (an error of
   * mcpq's own, not the server's): end the call `internal` with the last
   * error rather than retry forever; if even that cannot be written (NATS
   * ridden out as for any call's end, joinRideOutMs), the join becomes a dead letter.
   */
  private async giveUp(msg: JsMsg, err: unknown): Promise<void> {
    const join = this.parseJoin(msg);
    if (!join) return; // parseJoin dead-lettered it
    const message = `mcpq failed to handle this call ${MAX_JOIN_FAILURES} times in a row and gave up: ${clipText(describeError(err))}`;
    this.ctx.logger.error({ callId: join.callId, err: describeError(err) }, message);
    try {
      // One bound for the read and the end, as for any call's end (the join is kept meanwhile).
      const until = Date.now() + joinRideOutMs(this.ctx);
      // Rare: the leader's word, not a replica's.
      const found = await retryWhileNatsFails(() => this.ctx.store.getSure(join.callId, () => true), { until });
      if (found && !this.ctx.store.isTerminal(found)) {
        const outcome: Outcome = { status: 'failed', error: { code: ErrorCode.internal, message } };
        await finishCall(this.ctx.store, this.ctx.events, found, outcome, { throughOutageMs: Math.max(0, until - Date.now()) });
      }
      msg.ack();
    } catch {
      await this.deadLetter(msg, ErrorCode.internal, message, join.callId);
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
      void this.deadLetter(
        msg,
        ErrorCode.invalid_request,
        `invalid join message: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
      return undefined;
    }
    return parsed.data;
  }

  private async deadLetter(msg: JsMsg, code: ErrorCode, message: string, callId?: string): Promise<void> {
    this.ctx.logger.error({ code, subject: msg.subject, seq: msg.seq, callId }, message);
    try {
      await publishDeadLetter(this.ctx.js, this.ctx.names, {
        reason: 'join',
        code,
        message,
        msg,
        callId,
        maxPayload: this.ctx.nc.info?.max_payload,
      });
      this.ctx.telemetry.emit('dead-letter', { reason: 'join', code });
      msg.ack();
    } catch (err) {
      this.ctx.logger.error({ err: describeError(err) }, 'could not dead-letter a join; it will be redelivered');
      msg.nak(5_000);
    }
  }
}

/** What a rejoin came to, on its span: the disposition, the outcome's status, an error status on failure. */
function describeDisposition(span: Span, d: Disposition): void {
  span.setAttribute(SpanAttr.outcome, d.kind === 'stopped' ? `stopped:${d.reason.kind}` : d.kind);
  if (d.kind === 'outcome') {
    span.setAttribute(SpanAttr.attempt, d.record.value.attempts);
    recordOutcome(span, d.outcome);
  }
  if (d.kind === 'retry') recordFailure(span, d.error, d.error.code);
}

/**
 * The ack subject of a delivery ($JS.ACK.<stream>.<consumer>.…), where the task
 * watcher publishes its wake. The JsMsg interface does not expose it; its
 * implementation does (`reply`).
 */
function ackSubjectOf(msg: JsMsg): string | undefined {
  const reply = (msg as { reply?: unknown }).reply;
  return typeof reply === 'string' && reply.startsWith('$JS.ACK.') ? reply : undefined;
}

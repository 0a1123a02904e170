/**
 * Submit requests JetStream gave up on. A request redelivered
 * `submitter.maxDeliver` times without being handled (every submitter that
 * took it died with it) stays in the work queue, never delivered again; a
 * terminated one likewise. JetStream announces both with advisories, which
 * mcpq stores in a stream so none is missed even when no submitter runs.
 * Here each one becomes a dead letter with the original payload, the call
 * (when its id is readable) gets a failed result, and the request leaves the
 * queue.
 */
import type { JsMsg } from '@nats-io/jetstream';
import {
  decideRerun,
  describeError,
  ErrorCode,
  finishCall,
  publishDeadLetter,
  WorkLoop,
  type Outcome,
  type ServiceContext,
} from '@mcpq/shared';
import { parseSubmission } from './intake.js';

interface Advisory {
  type?: string;
  stream?: string;
  consumer?: string;
  stream_seq?: number;
  deliveries?: number;
}

/** Deliveries of one advisory before it is given up (each failed one is retried after the work loop's 5 s). */
const MAX_ADVISORY_DELIVERIES = 10;

export class ExhaustedRequests {
  private readonly loop: WorkLoop;

  constructor(private readonly ctx: ServiceContext) {
    this.loop = new WorkLoop({
      name: 'advisories',
      consumer: () => ctx.js.consumers.get(ctx.names.streams.advisories, ctx.names.consumers.advisories),
      concurrency: 4,
      handle: (msg) => this.handleBounded(msg),
      logger: ctx.logger,
    });
  }

  /**
   * One advisory is tried at most MAX_ADVISORY_DELIVERIES times: a request
   * whose dead letter or result cannot be written (whatever the reason) must
   * not go round forever; the last failure is logged and the advisory let go.
   */
  private async handleBounded(msg: JsMsg): Promise<void> {
    try {
      await this.handle(msg);
    } catch (err) {
      if (msg.info.deliveryCount < MAX_ADVISORY_DELIVERIES) throw err;
      this.ctx.logger.error(
        { err: describeError(err), seq: msg.seq, deliveries: msg.info.deliveryCount },
        'giving up on an exhausted-request advisory after repeated failures; the request stays in the submit stream',
      );
      msg.ack();
    }
  }

  start(): void {
    this.loop.start();
  }

  async stop(graceMs: number): Promise<void> {
    await this.loop.stop();
    await this.loop.drain(graceMs);
  }

  private async handle(msg: JsMsg): Promise<void> {
    let advisory: Advisory;
    try {
      advisory = msg.json<Advisory>();
    } catch {
      return msg.ack(); // not an advisory: nothing to act on
    }
    const { stream, stream_seq: seq } = advisory;
    if (stream !== this.ctx.names.streams.submit || typeof seq !== 'number') return msg.ack();
    const terminated = (advisory.type ?? '').includes('terminated');
    const stored = await this.ctx.jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!stored) return msg.ack(); // handled after all, or already removed
    const deliveries = advisory.deliveries ?? this.ctx.config.submitter.maxDeliver;
    const intake = parseSubmission(stored.subject, stored.data, this.ctx.names, this.ctx.config, stored.header?.values('Nats-Msg-Id'));
    const callId = intake.ok ? intake.request.callId : intake.callId;
    const log = this.ctx.logger.child({ callId, seq });
    const message = terminated
      ? 'the request was terminated before it could be handled'
      : `the request was delivered ${deliveries} times and never handled (each submitter that took it stopped before finishing)`;
    await publishDeadLetter(this.ctx.js, this.ctx.names, {
      maxPayload: this.ctx.nc.info?.max_payload,
      reason: terminated ? 'terminated' : 'exhausted',
      code: ErrorCode.delivery_exhausted,
      message,
      msg: { subject: stored.subject, data: stored.data, headers: stored.header, seq, info: { deliveryCount: deliveries, stream } },
      callId,
    });
    this.ctx.telemetry.emit('dead-letter', { reason: terminated ? 'terminated' : 'exhausted', code: ErrorCode.delivery_exhausted });
    if (callId)
      await this.failCall(
        callId,
        seq,
        message,
        intake.ok ? intake.server : (intake.server ?? ''),
        intake.ok ? intake.request.tool : (intake.tool ?? ''),
      );
    await this.ctx.jsm.streams
      .deleteMessage(stream, seq)
      .catch((err: unknown) => log.debug({ err: describeError(err) }, 'request already gone'));
    log.warn({ deliveries }, message);
    msg.ack();
  }

  /** Ends the call the request belongs to, unless it got further than dispatch (then it lives on in the joiners' hands). */
  private async failCall(callId: string, seq: number, message: string, server: string, tool: string): Promise<void> {
    const { store, events } = this.ctx;
    const found =
      (await store.get(callId)) ??
      (await store.create({ callId, server, tool, status: 'accepted', idempotent: false, submitSeq: seq })) ??
      (await store.get(callId));
    if (!found || found.value.submitSeq !== seq || store.isTerminal(found)) return;
    const rec = found.value;
    if (rec.status !== 'accepted' && rec.status !== 'dispatching') return;
    // No delivery is left: nothing runs again, and a call that may have been sent is of unknown outcome.
    const verdict = decideRerun({
      idempotent: rec.idempotent,
      sent: rec.status === 'dispatching' ? 'maybe' : 'no',
      transient: true,
      attemptsLeft: false,
      answered: false,
    });
    const outcome: Outcome =
      verdict.verdict === 'outcome_unknown'
        ? { status: 'failed', error: { code: ErrorCode.outcome_unknown, message: `${message}; tools/call may have reached the server` } }
        : { status: 'failed', error: { code: ErrorCode.delivery_exhausted, message } };
    await finishCall(store, events, found, outcome);
  }
}

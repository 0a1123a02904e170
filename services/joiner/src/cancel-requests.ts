/**
 * Answers `<prefix>.cancel.<callId>` requests (one joiner per request, via a
 * queue group). The cancel wins or loses by compare-and-set on the record:
 * the winner publishes the `cancelled` result, answers the caller, then
 * tells the MCP server (its outcome is a log line and a metric, never a
 * delay of the answer), and broadcasts on `<prefix>.ctl.cancel.<callId>` so
 * the joiner following the call (if any) looks at the record and lets go.
 * A call not started yet gets a cancelled record, so when its request
 * reaches a submitter it is not run.
 *
 * The answer goes only to a reply inbox (isReplyInbox): a requester may name
 * any reply subject, and an answer on a call record or a control subject
 * would be a write only mcpq may make.
 */
import type { Msg, Subscription } from '@nats-io/nats-core';
import {
  CALL_ID_PATTERN,
  isReplyInbox,
  CancelRequestSchema,
  cancelUpstream,
  describeError,
  ErrorCode,
  finishCall,
  isMcpqError,
  mayRunUpstream,
  type CallRecord,
  type CancelReply,
  type Logger,
  type McpHttpClient,
  type ServiceContext,
} from '@mcpq/shared';

export class CancelRequests {
  private readonly subs: Subscription[] = [];

  constructor(
    private readonly ctx: ServiceContext,
    private readonly clientFor: (server: string) => McpHttpClient | undefined,
    /** Called on a cancel hint: another process may have ended a call this joiner follows (a hint only: check the record). */
    private readonly onCancelHint: (callId: string) => void,
  ) {}

  start(): void {
    const { nc, names } = this.ctx;
    this.subs.push(
      nc.subscribe(names.cancelWildcard, {
        queue: `${names.prefix}-cancel`,
        callback: (_err, msg) => void this.handle(msg),
      }),
      nc.subscribe(names.controlCancelWildcard, {
        callback: (_err, msg) => {
          const callId = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
          if (CALL_ID_PATTERN.test(callId)) this.onCancelHint(callId);
        },
      }),
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.subs.map((s) => s.drain().catch(() => undefined)));
  }

  private async handle(msg: Msg): Promise<void> {
    const callId = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
    const log = this.ctx.logger.child({ callId });
    const inbox = isReplyInbox(msg.reply, this.ctx.config.nats.inboxPrefix);
    if (msg.reply && !inbox)
      log.warn({ reply: msg.reply }, 'cancel request with a reply subject that is not an inbox: carried out, not answered');
    const reply = (r: Omit<CancelReply, 'callId'>) => {
      if (inbox) msg.respond(JSON.stringify({ callId, ...r }));
    };
    if (!CALL_ID_PATTERN.test(callId)) return reply({ accepted: false, status: 'invalid', detail: 'not a valid callId' });
    const reason = readReason(msg);
    let done: Cancelled;
    try {
      done = await this.cancel(callId, reason, log);
    } catch (err) {
      log.error({ err: describeError(err) }, 'cancel failed');
      return reply({ accepted: false, status: 'error', detail: describeError(err) });
    }
    reply(done.reply);
    if (done.upstream) await this.tellUpstream(done.upstream.record, done.upstream.message, log);
  }

  /** Tells the MCP server of a cancellation the caller already has the answer to; the outcome is logged and counted. */
  private async tellUpstream(rec: CallRecord, message: string, log: Logger): Promise<void> {
    const client = this.clientFor(rec.server);
    let told = false;
    try {
      told = client ? await cancelUpstream(client, rec, `mcpq: ${message}`, log) : false;
    } catch (err) {
      log.warn({ err: describeError(err) }, 'could not tell the MCP server of the cancellation');
    }
    if (!told) log.warn({ server: rec.server }, 'the MCP server could not be told of the cancellation; the tool may run on there');
    this.ctx.telemetry.emit('call:upstream-cancel', { callId: rec.callId, told });
  }

  private async cancel(callId: string, reason: string | undefined, log: Logger): Promise<Cancelled> {
    const { store, events } = this.ctx;
    const error = { code: ErrorCode.cancelled, message: `the call was cancelled on request${reason ? `: ${reason}` : ''}` };
    const cancel = { at: new Date().toISOString(), ...(reason ? { reason } : {}) };
    for (let i = 0; i < 10; i++) {
      const current = await store.get(callId);
      if (!current) {
        const created = await store.create({ callId, server: '', tool: '', status: 'accepted', idempotent: false, cancel });
        if (!created) continue;
        await finishCall(store, events, created, {
          status: 'cancelled',
          error: { ...error, message: `${error.message} (before it started)` },
        });
        log.info('call cancelled before any submitter took it');
        return {
          reply: {
            accepted: true,
            status: 'cancelled',
            detail: 'no call with this id had started; if its request is still queued, it will not run',
          },
        };
      }
      if (store.isTerminal(current)) {
        return { reply: { accepted: false, status: current.value.status, detail: 'the call had already ended' } };
      }
      let ended;
      try {
        ended = await finishCall(store, events, current, { status: 'cancelled', error }, { extra: { cancel } });
      } catch (err) {
        if (isMcpqError(err, ErrorCode.record_conflict)) continue;
        throw err;
      }
      this.ctx.nc.publish(this.ctx.names.controlCancel(callId));
      const sent = mayRunUpstream(current.value);
      log.info({ mode: ended.value.mode, tellServer: sent }, 'call cancelled');
      return {
        reply: {
          accepted: true,
          status: 'cancelled',
          ...(sent ? { detail: 'the MCP server is being told; a server that does not listen may run the tool to its end' } : {}),
        },
        ...(sent ? { upstream: { record: current.value, message: error.message } } : {}),
      };
    }
    throw new Error('the call record kept changing; try again');
  }
}

/** What a cancel request came to: the answer, and the record of a call the MCP server is to be told about. */
interface Cancelled {
  reply: Omit<CancelReply, 'callId'>;
  upstream?: { record: CallRecord; message: string };
}

/** The CancelRequest's reason; an empty or unreadable body cancels all the same, without one. */
function readReason(msg: Msg): string | undefined {
  if (msg.data.length === 0) return undefined;
  try {
    return CancelRequestSchema.safeParse(msg.json()).data?.reason;
  } catch {
    return undefined;
  }
}

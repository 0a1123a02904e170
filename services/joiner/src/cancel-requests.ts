/**
 * Answers `<prefix>.cancel.<callId>` requests (one joiner per request, via a
 * queue group). The cancel wins or loses by compare-and-set on the record:
 * the winner publishes the `cancelled` result, tells the MCP server, and
 * broadcasts on `<prefix>.ctl.cancel.<callId>` so the joiner following the
 * call (if any) lets go at once. A call not started yet gets a cancelled
 * record, so when its request reaches a submitter it is not run.
 */
import type { Msg, Subscription } from '@nats-io/nats-core';
import {
  CALL_ID_PATTERN,
  CancelRequestSchema,
  cancelUpstream,
  describeError,
  ErrorCode,
  finishCall,
  isMcpqError,
  mayRunUpstream,
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
    /** Called when another process ended a call this joiner may be following. */
    private readonly onEndedElsewhere: (callId: string) => void,
  ) {}

  start(): void {
    const { nc, names } = this.ctx;
    this.subs.push(
      nc.subscribe(names.cancelWildcard, {
        queue: `${names.prefix}-cancel`,
        callback: (_err, msg) => void this.handle(msg),
      }),
      nc.subscribe(names.controlCancelWildcard, {
        callback: (_err, msg) => this.onEndedElsewhere(msg.subject.slice(msg.subject.lastIndexOf('.') + 1)),
      }),
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.subs.map((s) => s.drain().catch(() => undefined)));
  }

  private async handle(msg: Msg): Promise<void> {
    const callId = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
    const log = this.ctx.logger.child({ callId });
    const reply = (r: Omit<CancelReply, 'callId'>) => {
      if (msg.reply) msg.respond(JSON.stringify({ callId, ...r }));
    };
    if (!CALL_ID_PATTERN.test(callId)) return reply({ accepted: false, status: 'invalid', detail: 'not a valid callId' });
    const reason = readReason(msg);
    try {
      reply(await this.cancel(callId, reason, log));
    } catch (err) {
      log.error({ err: describeError(err) }, 'cancel failed');
      reply({ accepted: false, status: 'error', detail: describeError(err) });
    }
  }

  private async cancel(callId: string, reason: string | undefined, log: Logger): Promise<Omit<CancelReply, 'callId'>> {
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
          accepted: true,
          status: 'cancelled',
          detail: 'no call with this id had started; if its request is still queued, it will not run',
        };
      }
      if (store.isTerminal(current)) {
        return { accepted: false, status: current.value.status, detail: 'the call had already ended' };
      }
      let ended;
      try {
        ended = await finishCall(store, events, current, { status: 'cancelled', error }, { cancel });
      } catch (err) {
        if (isMcpqError(err, ErrorCode.record_conflict)) continue;
        throw err;
      }
      this.ctx.nc.publish(this.ctx.names.controlCancel(callId));
      const rec = current.value;
      const sent = mayRunUpstream(rec);
      const client = sent ? this.clientFor(rec.server) : undefined;
      const told = client ? await cancelUpstream(client, rec, `mcpq: ${error.message}`, log) : false;
      log.info({ mode: ended.value.mode, upstream: told }, 'call cancelled');
      return {
        accepted: true,
        status: 'cancelled',
        ...(sent && !told ? { detail: 'the MCP server could not be told; the call may run on there' } : {}),
      };
    }
    throw new Error('the call record kept changing; try again');
  }
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

/**
 * Answers `<prefix>.ctl.joiners` with what this joiner follows right now
 * (held calls, and calls it parked whose delay has not passed), so the
 * console can show every joiner without a new stream or bucket. Core NATS
 * only: an answer is a snapshot, nothing is kept. Answered only on a reply
 * inbox (isReplyInbox), like every answer of a service.
 */
import { isReplyInbox, type JoinerReport, type ServiceContext } from '@mcpq/shared';

/**
 * Counts the calls this joiner parked whose delay has not passed yet (read by
 * the report and the `mcpq_calls_parked` gauge).
 */
export function trackParked(telemetry: ServiceContext['telemetry']): () => number {
  // callId -> epoch ms when its park delay ends (a parked call is redelivered then, to any joiner).
  const parkedUntil = new Map<string, number>();
  telemetry.on('call:parked', ({ callId, delayMs }) => parkedUntil.set(callId, Date.now() + delayMs));
  // A woken call (its task watcher redelivered the join before its lease ended) is parked no more.
  telemetry.on('task:wake', ({ callId }) => parkedUntil.delete(callId));
  return () => {
    const now = Date.now();
    for (const [callId, until] of parkedUntil) if (until <= now) parkedUntil.delete(callId);
    return parkedUntil.size;
  };
}

/** Starts answering; the returned function stops. `held` and `parked` read the joiner's current counts. */
export function answerJoinerReports(ctx: ServiceContext, id: string, held: () => number, parked: () => number): () => void {
  const sub = ctx.nc.subscribe(ctx.names.controlJoiners, {
    callback: (err, msg) => {
      // Only to an inbox: a reply subject naming a call record or an event subject gets nothing.
      if (err || !isReplyInbox(msg.reply, ctx.config.nats.inboxPrefix)) return;
      const report: JoinerReport = { id, held: held(), parked: parked(), at: new Date().toISOString() };
      msg.respond(JSON.stringify(report));
    },
  });
  return () => sub.unsubscribe();
}

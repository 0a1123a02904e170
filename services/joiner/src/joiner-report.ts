/**
 * Answers `<prefix>.ctl.joiners` with what this joiner follows right now
 * (held calls, and calls it parked whose delay has not passed), so the
 * console can show every joiner without a new stream or bucket. Core NATS
 * only: an answer is a snapshot, nothing is kept.
 */
import type { JoinerReport, ServiceContext } from '@mcpq/shared';

/** Starts answering; the returned function stops. `held` reads the joiner's current count. */
export function answerJoinerReports(ctx: ServiceContext, id: string, held: () => number): () => void {
  // callId -> epoch ms when its park delay ends (a parked call is redelivered then, to any joiner).
  const parkedUntil = new Map<string, number>();
  ctx.telemetry.on('call:parked', ({ callId, delayMs }) => parkedUntil.set(callId, Date.now() + delayMs));
  const parked = (): number => {
    const now = Date.now();
    for (const [callId, until] of parkedUntil) if (until <= now) parkedUntil.delete(callId);
    return parkedUntil.size;
  };
  const sub = ctx.nc.subscribe(ctx.names.controlJoiners, {
    callback: (err, msg) => {
      if (err || !msg.reply) return;
      const report: JoinerReport = { id, held: held(), parked: parked(), at: new Date().toISOString() };
      msg.respond(JSON.stringify(report));
    },
  });
  return () => sub.unsubscribe();
}

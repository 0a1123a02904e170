/**
 * Keeping a JetStream message while it is worked on: `keepWorking` tells
 * JetStream so (`working()`) every `everyMs`, so its AckWait does not
 * expire; `joinRideOutMs` is how long a joiner, its join kept so, retries a
 * NATS request it must not lose.
 */
import type { JsMsg } from '@nats-io/jetstream';
import type { ServiceContext } from './service.js';

export function keepWorking(msg: Pick<JsMsg, 'working'>, everyMs: number): () => void {
  const timer = setInterval(() => {
    try {
      msg.working();
    } catch {
      // Disconnected: the next tick tries again; AckWait decides if the call moves on.
    }
  }, everyMs);
  return () => clearInterval(timer);
}

/** nats.js's timeout of a JetStream request (a publish's PubAck, a KV write) when none is configured. */
const JETSTREAM_REQUEST_TIMEOUT_MS = 5_000;

/**
 * How long a joiner rides out NATS failing while it writes for a call it
 * must not lose (a progress event and its record, the call's end):
 * joiner.ackWaitMs plus one JetStream request timeout. A request whose answer
 * was lost fails only at that timeout (5 s), so a bound of ackWaitMs alone
 * (4 s by default) never let it be asked again: the join went round the
 * queue instead, and a held (hold-mode) call lost its answer for good. The
 * joiner's heartbeat keeps the join all the while (Joiner.handle); when NATS
 * cannot hear it, the join goes to another joiner after AckWait and the
 * record's compare-and-set decides, as for any takeover.
 */
export function joinRideOutMs(ctx: Pick<ServiceContext, 'config' | 'js'>): number {
  return ctx.config.joiner.ackWaitMs + (ctx.js.getOptions().timeout ?? JETSTREAM_REQUEST_TIMEOUT_MS);
}

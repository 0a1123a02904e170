/**
 * Tells JetStream that a message is still being worked on (`working()`),
 * every `everyMs`, so its AckWait does not expire while a call is followed.
 * Returns the function that stops it.
 */
import type { JsMsg } from '@nats-io/jetstream';

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

/**
 * Why the joiner stopped following a call before it ended. Each is an abort
 * reason on the call's AbortController, so one signal stops the HTTP stream
 * whatever the cause, and the handler decides from the reason what to do.
 */
export type StopReason =
  /** The call's deadline (timeoutMs) passed: cancel upstream, end it `timeout`. */
  | { kind: 'deadline' }
  /** No event for joiner.idleTimeoutMs: park, re-GET later. */
  | { kind: 'idle' }
  /** The joiner is shutting down: hand the call back at once. */
  | { kind: 'shutdown' }
  /** Another process ended the call (a cancel): stop following, the join is done. */
  | { kind: 'ended-elsewhere' }
  /** A newer delivery of the same join reached this joiner: this follower is stale. */
  | { kind: 'superseded' };

export class StopSignal extends Error {
  constructor(readonly reason: StopReason) {
    super(`stopped following the call: ${reason.kind}`);
    this.name = 'StopSignal';
  }
}

/**
 * One AbortController per followed call, and the deadline that fires it.
 * The idle rule has no timer of its own: `touch()` stamps each event and the
 * joiner's one sweep (every joiner.heartbeatMs, with the heartbeats) calls
 * `sweep()`, so a held call costs no timer churn per event and no timer
 * object at all while it waits. A call held in hold mode has no idle rule
 * (its stream cannot be re-requested) and is not handed back on shutdown
 * (it cannot be resumed elsewhere).
 */
export class CallWatch {
  readonly controller = new AbortController();
  private lastEventAt = Date.now();
  private deadlineTimer?: NodeJS.Timeout | undefined;

  constructor(
    private readonly idleMs: number | undefined,
    deadline: number | undefined,
    readonly holdsCall = false,
  ) {
    if (deadline !== undefined) {
      // setTimeout takes at most 2^31-1 ms; a farther deadline is checked again at the next delivery.
      const wait = Math.min(Math.max(0, deadline - Date.now()), 2_147_000_000);
      this.deadlineTimer = setTimeout(() => this.stop({ kind: 'deadline' }), wait);
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The reason the call was stopped, if it was. */
  get reason(): StopReason | undefined {
    const r = this.controller.signal.reason;
    return r instanceof StopSignal ? r.reason : undefined;
  }

  /** An event arrived: the call is not idle. */
  touch(): void {
    this.lastEventAt = Date.now();
  }

  /** Stops the call `idle` when no event came for idleMs (noticed up to one sweep late). */
  sweep(now: number): void {
    if (this.idleMs !== undefined && now - this.lastEventAt >= this.idleMs) this.stop({ kind: 'idle' });
  }

  stop(reason: StopReason): void {
    if (reason.kind === 'shutdown' && this.holdsCall) return;
    if (!this.controller.signal.aborted) this.controller.abort(new StopSignal(reason));
  }

  dispose(): void {
    clearTimeout(this.deadlineTimer);
  }
}

/**
 * Wake-ups of a waiter: a message arrived ("look now"), the recheck time
 * passed with none ("look anyway": a message published while the connection
 * was reconnecting reached no subscriber), or the wait was stopped. A
 * message that arrives while the waiter is busy is not lost: the next wait
 * returns at once.
 */
export type WakeUp = 'message' | 'recheck' | 'stopped';

export class WakeUps {
  private pending = false;
  private stopped = false;
  private wake?: ((why: WakeUp) => void) | undefined;

  /** A message arrived. */
  kick(): void {
    if (this.wake) this.take()('message');
    else this.pending = true;
  }

  /** Ends every wait, now and later. */
  stop(): void {
    this.stopped = true;
    if (this.wake) this.take()('stopped');
  }

  /** Waits for the next wake-up, at most `recheckMs`. */
  next(recheckMs: number): Promise<WakeUp> {
    if (this.stopped) return Promise.resolve('stopped');
    if (this.pending) {
      this.pending = false;
      return Promise.resolve('message');
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.take()('recheck'), recheckMs);
      this.wake = (why) => {
        clearTimeout(timer);
        resolve(why);
      };
    });
  }

  private take(): (why: WakeUp) => void {
    const wake = this.wake!;
    this.wake = undefined;
    return wake;
  }
}

/**
 * A server's poll budget (servers.<alias>.pollsPerSecond): a token bucket
 * shared by every task-state request a joiner's task watcher sends that
 * server, so the cost of parked calls is bounded per server whatever their
 * number. Bursts are small (a fifth of a second's worth), so the rate holds
 * over any second.
 */
export class PollBudget {
  private tokens: number;
  private at: number;
  private readonly capacity: number;

  constructor(
    private readonly perSecond: number,
    now = Date.now(),
  ) {
    this.capacity = Math.max(1, perSecond / 5);
    this.tokens = this.capacity;
    this.at = now;
  }

  /** Takes one request's worth, if there is one now. */
  tryTake(now = Date.now()): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Time until tryTake can succeed. */
  waitMs(now = Date.now()): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.perSecond);
  }

  private refill(now: number): void {
    if (now <= this.at) return;
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.at) * this.perSecond) / 1000);
    this.at = now;
  }
}

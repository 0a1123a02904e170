/**
 * A budget of concurrent work per key (per MCP server alias): at most
 * `limit` holders per key at once; more wait their turn, in order. One
 * server that hangs uses up its own budget only, never another's.
 */
export class KeyedBudget {
  private readonly used = new Map<string, number>();
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(private readonly limitOf: (key: string) => number) {}

  /** True when `key` has room now (a take() would not wait). */
  hasRoom(key: string): boolean {
    return (this.used.get(key) ?? 0) < this.limitOf(key);
  }

  /** How many holders `key` has now. */
  inUse(key: string): number {
    return this.used.get(key) ?? 0;
  }

  /**
   * Waits for room under `key` (or until `signal` aborts: then rejects) and
   * takes it; the returned function gives it back (idempotent).
   */
  async take(key: string, signal?: AbortSignal): Promise<() => void> {
    while (!this.hasRoom(key)) {
      signal?.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const queue = this.waiting.get(key) ?? [];
        this.waiting.set(key, queue);
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          const i = queue.indexOf(wake);
          if (i >= 0) queue.splice(i, 1);
          reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
        };
        queue.push(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
    this.used.set(key, (this.used.get(key) ?? 0) + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.used.get(key) ?? 1) - 1;
      if (left === 0) this.used.delete(key);
      else this.used.set(key, left);
      const next = this.waiting.get(key)?.shift();
      if (this.waiting.get(key)?.length === 0) this.waiting.delete(key);
      next?.();
    };
  }
}

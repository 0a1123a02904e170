/**
 * What the example server did, for tests and the benchmark: how many times
 * each call ran (keyed by mcpq's call id from `_meta`, else by the `tag`
 * argument), and which ones were cancelled. Served as JSON on /stats.
 */
export interface ServerStats {
  /** tool -> key -> times started */
  executions: Record<string, Record<string, number>>;
  started: number;
  completed: number;
  /** Keys of calls whose request was cancelled while running. */
  cancelled: string[];
  /** key -> the W3C traceparent the request carried in `_meta`. */
  traceparents: Record<string, string>;
  sessions: number;
}

export class ExecutionLog {
  private readonly executions = new Map<string, Map<string, number>>();
  private started = 0;
  private completed = 0;
  private readonly cancelled: string[] = [];
  private readonly traceparents = new Map<string, string>();

  start(tool: string, key: string, traceparent?: unknown): void {
    if (typeof traceparent === 'string') this.traceparents.set(key, traceparent);
    this.started++;
    let byKey = this.executions.get(tool);
    if (!byKey) this.executions.set(tool, (byKey = new Map()));
    byKey.set(key, (byKey.get(key) ?? 0) + 1);
  }

  complete(): void {
    this.completed++;
  }

  cancel(key: string): void {
    this.cancelled.push(key);
  }

  snapshot(sessions: number): ServerStats {
    const executions: ServerStats['executions'] = {};
    for (const [tool, byKey] of this.executions) executions[tool] = Object.fromEntries(byKey);
    return {
      executions,
      started: this.started,
      completed: this.completed,
      cancelled: [...this.cancelled],
      traceparents: Object.fromEntries(this.traceparents),
      sessions,
    };
  }
}

/**
 * What a 2026-era test server did, for tests: how many times each tool ran
 * (keyed by mcpq's call id from `_meta`, else by the `tag` argument), which
 * calls were cancelled by closing their POST stream, and which tasks saw a
 * `tasks/cancel`. Served as JSON on /stats.
 */
export interface Server2026Stats {
  /** tool -> key -> times started */
  executions: Record<string, Record<string, number>>;
  /** Keys of calls whose POST stream was closed while they ran (the 2026-07-28 cancel). */
  streamCancelled: string[];
  /** Task ids that received `tasks/cancel`. */
  tasksCancelled: string[];
  /** Methods received, in order (for checking what a client sent). */
  methods: string[];
}

export class Server2026Log {
  private readonly executions = new Map<string, Map<string, number>>();
  private readonly streamCancelled: string[] = [];
  private readonly tasksCancelled: string[] = [];
  private readonly methods: string[] = [];

  start(tool: string, key: string): void {
    let byKey = this.executions.get(tool);
    if (!byKey) this.executions.set(tool, (byKey = new Map()));
    byKey.set(key, (byKey.get(key) ?? 0) + 1);
  }

  method(name: string): void {
    this.methods.push(name);
  }

  cancelledByStream(key: string): void {
    this.streamCancelled.push(key);
  }

  cancelledTask(taskId: string): void {
    this.tasksCancelled.push(taskId);
  }

  snapshot(): Server2026Stats {
    const executions: Server2026Stats['executions'] = {};
    for (const [tool, byKey] of this.executions) executions[tool] = Object.fromEntries(byKey);
    return {
      executions,
      streamCancelled: [...this.streamCancelled],
      tasksCancelled: [...this.tasksCancelled],
      methods: [...this.methods],
    };
  }
}

/**
 * The SDK's TaskStore (MCP 2025-11-25 tasks) over mcpq's shared state, for
 * one principal. With it the SDK's own `tasks/get`, `tasks/result`,
 * `tasks/list` and `tasks/cancel` handlers answer from mcpq: any replica,
 * any session, the same answers. Tasks are created by the gateway's
 * tools/call handler (an mcpq submission), never through the store, and
 * their results are stored by mcpq's joiners, not by this process.
 */
import type { CreateTaskOptions, TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import type { CallToolResult, Request, RequestId, Result, Task } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode, McpqError, type Principal } from '@mcpq/shared';
import { notFound, TASK_POLL_INTERVAL_MS, type CallTask, type CallTasks } from './call-tasks.js';
import { answering, mcpqRpcError, resultError } from './jsonrpc-errors.js';

export class McpqTaskStore implements TaskStore {
  constructor(
    private readonly tasks: CallTasks,
    private readonly principal: Principal,
    /** Task time to live reported to hosts: how long the result stays replayable. */
    private readonly ttlMs: number,
  ) {}

  createTask(_params: CreateTaskOptions, _requestId: RequestId, _request: Request): Promise<Task> {
    return Promise.reject(new McpqError(ErrorCode.internal, 'gateway tasks are created by submitting an mcpq call'));
  }

  getTask(taskId: string): Promise<Task | null> {
    return answering(async () => {
      const task = await this.tasks.get(this.principal, taskId);
      return task ? this.toTask(task) : null;
    });
  }

  storeTaskResult(): Promise<void> {
    return Promise.reject(new McpqError(ErrorCode.internal, 'gateway task results are stored by mcpq joiners'));
  }

  /** The tool result as the server sent it; a call that ended without one is its JSON-RPC error. */
  getTaskResult(taskId: string): Promise<Result> {
    return answering(async () => {
      const result = await this.tasks.result(this.principal, taskId);
      if (result.status === 'completed' && result.result) return result.result as CallToolResult;
      throw resultError(result);
    });
  }

  /** Only cancellation is asked of a store by the SDK's handlers; it becomes an mcpq cancel. */
  updateTaskStatus(taskId: string, status: Task['status'], statusMessage?: string): Promise<void> {
    return answering(async () => {
      if (status !== 'cancelled') throw mcpqRpcError(ErrorCode.invalid_request, `tasks cannot be moved to ${status} through the gateway`);
      await this.tasks.cancel(this.principal, taskId, statusMessage ?? 'cancelled through the mcpq gateway');
    });
  }

  /**
   * tasks/cancel as the SDK's own handler does it (an unknown or ended task is -32602; then the mcpq
   * cancel, and the task as it is now), for the gateway to answer in its place: the SDK's turns every
   * other failure, NATS failing included, into -32600 "Failed to cancel task".
   */
  cancelTask(taskId: string): Promise<Task> {
    return answering(async () => {
      const task = await this.tasks.get(this.principal, taskId);
      if (!task) throw notFound(taskId);
      if (task.status !== 'working' && task.status !== 'input_required') {
        throw mcpqRpcError(ErrorCode.invalid_request, `Cannot cancel task in terminal status: ${task.status}`);
      }
      await this.tasks.cancel(this.principal, taskId, 'cancelled through the mcpq gateway');
      const now = await this.tasks.get(this.principal, taskId);
      if (!now) throw notFound(taskId);
      return this.toTask(now);
    });
  }

  listTasks(cursor?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    return answering(async () => {
      const page = await this.tasks.list(this.principal, cursor);
      return { tasks: page.tasks.map((t) => this.toTask(t)), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
    });
  }

  toTask(task: CallTask): Task {
    return { ...task, ttl: this.ttlMs, pollInterval: TASK_POLL_INTERVAL_MS };
  }
}

/**
 * The tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663) as this
 * test server offers it: tasks live in process memory, `tasks/get` returns
 * the task with its `result` or `error` inline once it ends, `tasks/update`
 * answers `inputRequests`, `tasks/cancel` is an empty ack (recorded for
 * tests). A task id is a random UUID (unguessable).
 */
import { randomUUID } from 'node:crypto';
import { ProtocolError, type McpServer, type ServerContext } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Server2026Log } from './stats.js';

export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';
const CLIENT_CAPABILITIES_KEY = 'io.modelcontextprotocol/clientCapabilities';

type Status = 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';

interface TaskState {
  taskId: string;
  status: Status;
  statusMessage?: string;
  createdAt: string;
  lastUpdatedAt: string;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
  inputRequests?: Record<string, unknown>;
  /** Runs the rest of the work once the input arrived. */
  onInput?: (responses: Record<string, unknown>) => void;
  timer?: NodeJS.Timeout;
}

const TASK_TTL_MS = 60_000;

/** Whether the request declared the tasks extension in its per-request client capabilities. */
export function declaresTasks(ctx: ServerContext): boolean {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const caps = (envelope?.[CLIENT_CAPABILITIES_KEY] ?? envelope?.clientCapabilities) as
    { extensions?: Record<string, unknown> } | undefined;
  return caps?.extensions?.[TASKS_EXTENSION] !== undefined;
}

export class TaskBoard {
  private readonly tasks = new Map<string, TaskState>();

  constructor(
    private readonly log: Server2026Log,
    private readonly pollIntervalMs: number,
  ) {}

  /**
   * Starts a task that finishes after `durationMs` with `finish()`'s result
   * (or error). With `input`, the task first waits in `input_required`.
   */
  create(
    durationMs: number,
    finish: () => { result: Record<string, unknown> } | { error: { code: number; message: string } },
    input?: Record<string, unknown>,
  ): Record<string, unknown> {
    const now = new Date().toISOString();
    const task: TaskState = { taskId: randomUUID(), status: 'working', createdAt: now, lastUpdatedAt: now };
    this.tasks.set(task.taskId, task);
    const run = () => {
      task.timer = setTimeout(() => {
        if (task.status !== 'working') return;
        const end = finish();
        this.set(task, 'result' in end ? 'completed' : 'failed');
        if ('result' in end) task.result = end.result;
        else task.error = end.error;
      }, durationMs);
    };
    if (input) {
      this.set(task, 'input_required');
      task.inputRequests = input;
      task.onInput = () => {
        delete task.inputRequests;
        this.set(task, 'working');
        run();
      };
    } else {
      run();
    }
    return { resultType: 'task', ...this.view(task, false) };
  }

  registerHandlers(server: McpServer): void {
    const byId = z.object({ taskId: z.string() });
    server.server.setRequestHandler('tasks/get', { params: byId }, (params, ctx) => {
      this.log.method('tasks/get');
      return this.view(this.find(params.taskId, ctx), true);
    });
    // The SDK lifts `inputResponses` out of every request's params into ctx.mcpReq.inputResponses.
    server.server.setRequestHandler('tasks/update', { params: byId }, (params, ctx) => {
      this.log.method('tasks/update');
      const task = this.find(params.taskId, ctx);
      if (task.status === 'input_required' && task.onInput) {
        const onInput = task.onInput;
        delete task.onInput;
        onInput(ctx.mcpReq.inputResponses ?? {});
      }
      return {};
    });
    server.server.setRequestHandler('tasks/cancel', { params: byId }, (params, ctx) => {
      this.log.method('tasks/cancel');
      const task = this.find(params.taskId, ctx);
      this.log.cancelledTask(task.taskId);
      if (task.status === 'working' || task.status === 'input_required') {
        clearTimeout(task.timer);
        this.set(task, 'cancelled');
      }
      return {};
    });
  }

  close(): void {
    for (const task of this.tasks.values()) clearTimeout(task.timer);
  }

  private find(taskId: string, ctx: ServerContext): TaskState {
    if (!declaresTasks(ctx)) {
      throw new ProtocolError(-32021 as never, `the request does not declare the ${TASKS_EXTENSION} extension`, {
        requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } },
      });
    }
    const task = this.tasks.get(taskId);
    if (!task) throw new ProtocolError(-32602 as never, `Failed to retrieve task: Task not found`);
    return task;
  }

  private set(task: TaskState, status: Status): void {
    task.status = status;
    task.lastUpdatedAt = new Date().toISOString();
  }

  private view(task: TaskState, detailed: boolean): Record<string, unknown> {
    return {
      taskId: task.taskId,
      status: task.status,
      ...(task.statusMessage ? { statusMessage: task.statusMessage } : {}),
      createdAt: task.createdAt,
      lastUpdatedAt: task.lastUpdatedAt,
      ttlMs: TASK_TTL_MS,
      pollIntervalMs: this.pollIntervalMs,
      ...(detailed && task.inputRequests ? { inputRequests: task.inputRequests } : {}),
      ...(detailed && task.result ? { result: task.result } : {}),
      ...(detailed && task.error ? { error: task.error } : {}),
    };
  }
}

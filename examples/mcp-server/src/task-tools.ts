/**
 * Task-capable tools (MCP Tasks, protocol 2025-11-25, SDK experimental API):
 * `slow_task` (taskSupport optional) and `slow_task_required` (required).
 * The work runs in the background and reports each step as the task's
 * statusMessage; a task cancelled with tasks/cancel stops at the next step
 * and is counted in the ExecutionLog.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CreateTaskRequestHandlerExtra } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { ExecutionLog } from './stats.js';
import { CALL_ID_META_KEY } from './tools.js';

export interface TaskToolOptions {
  /** pollInterval the server suggests for its tasks. */
  pollIntervalMs?: number;
}

const input = {
  durationMs: z.number().int().min(0).max(3_600_000).default(3_000),
  steps: z.number().int().min(1).max(10_000).default(3),
  label: z.string().default(''),
  /** Ask for input (status input_required) after the first step, then wait until cancelled or the deadline. */
  askInput: z.boolean().default(false),
  tag: z.string().optional(),
};

type Args = z.infer<z.ZodObject<typeof input>>;

export function registerTaskTools(server: McpServer, log: ExecutionLog, options: TaskToolOptions = {}): void {
  const handler = (name: string) => ({
    async createTask(args: Args, extra: CreateTaskRequestHandlerExtra) {
      const fromMeta = extra._meta?.[CALL_ID_META_KEY];
      const key = typeof fromMeta === 'string' ? fromMeta : (args.tag ?? 'anonymous');
      log.start(name, key, extra._meta?.traceparent);
      const store = extra.taskStore;
      const task = await store.createTask({ ttl: extra.taskRequestedTtl ?? 60_000, pollInterval: options.pollIntervalMs ?? 500 });
      void (async () => {
        const pause = args.durationMs / args.steps;
        try {
          for (let i = 1; i <= args.steps; i++) {
            await new Promise((r) => setTimeout(r, pause));
            const now = await store.getTask(task.taskId);
            if (!now || now.status === 'cancelled') {
              log.cancel(key);
              return;
            }
            if (args.askInput && i === 1) {
              await store.updateTaskStatus(task.taskId, 'input_required', 'waiting for approval');
              // Nothing answers in this example: wait until the task is cancelled.
              for (;;) {
                await new Promise((r) => setTimeout(r, 100));
                const t = await store.getTask(task.taskId);
                if (!t || t.status === 'cancelled') {
                  log.cancel(key);
                  return;
                }
              }
            }
            if (i < args.steps) await store.updateTaskStatus(task.taskId, 'working', `step ${i} of ${args.steps}`);
          }
          const result: CallToolResult = {
            content: [{ type: 'text', text: `${name} done: ${args.label}` }],
            // endedAt: when the result became available (epoch ms), so the benchmark can time how soon a poller notices.
            structuredContent: { label: args.label, key, endedAt: Date.now() },
          };
          await store.storeTaskResult(task.taskId, 'completed', result);
          log.complete();
        } catch {
          // The task is gone (expired, or the server is shutting down): nothing left to report to.
        }
      })();
      return { task };
    },
    async getTask(_args: Args, extra: { taskId: string; taskStore: CreateTaskRequestHandlerExtra['taskStore'] }) {
      const task = await extra.taskStore.getTask(extra.taskId);
      if (!task) throw new Error(`unknown task ${extra.taskId}`);
      return task;
    },
    async getTaskResult(_args: Args, extra: { taskId: string; taskStore: CreateTaskRequestHandlerExtra['taskStore'] }) {
      return (await extra.taskStore.getTaskResult(extra.taskId)) as CallToolResult;
    },
  });
  server.experimental.tasks.registerToolTask(
    'slow_task',
    {
      description: 'Runs in the background as an MCP task; reports steps as statusMessage.',
      inputSchema: input,
      annotations: { idempotentHint: false },
      execution: { taskSupport: 'optional' },
    },
    handler('slow_task'),
  );
  server.experimental.tasks.registerToolTask(
    'slow_task_required',
    {
      description: 'Like slow_task, but must be called as a task.',
      inputSchema: input,
      annotations: { idempotentHint: false },
      execution: { taskSupport: 'required' },
    },
    handler('slow_task_required'),
  );
}

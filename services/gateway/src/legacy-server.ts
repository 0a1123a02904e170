/**
 * The gateway's MCP server for protocol 2025-11-25 (and older revisions):
 * the SDK 1.x `Server`, built for one HTTP request and one principal.
 * `tools/list` from the server catalog, `tools/call` as an mcpq call —
 * answered when it ends, or at once as a task when the host asks for one —
 * and the SDK's own `tasks/*` handlers over mcpq's state (McpqTaskStore).
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  CancelTaskRequestSchema,
  ListTasksRequestSchema,
  ListToolsRequestSchema,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { Principal, ProgressEvent } from '@mcpq/shared';
import { GATEWAY_INFO, GATEWAY_INSTRUCTIONS } from './info.js';
import { answering } from './jsonrpc-errors.js';
import { McpqTaskStore } from './task-store.js';
import { gatewayTool, progressParams, submitToolCall, waitForResult, type GatewayParts } from './tool-calls.js';

/** The SDK server for one request of `principal`; `hostGone` aborts when the host's HTTP connection closes before the answer. */
export function createLegacyServer(parts: GatewayParts, principal: Principal, hostGone: AbortSignal): Server {
  const taskStore = new McpqTaskStore(parts.tasks, principal, parts.taskTtlMs);
  const server = new Server(GATEWAY_INFO, {
    capabilities: {
      tools: { listChanged: false },
      tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
    },
    instructions: GATEWAY_INSTRUCTIONS,
    taskStore,
  });

  // In place of the SDK's own tasks/list and tasks/cancel handlers, which answer every failure as -32602
  // "Failed to list tasks" (what a cursor it refused gets too) or -32600 "Failed to cancel task": NATS
  // failing must reach the host as what it is (-32603, nats_error).
  server.setRequestHandler(ListTasksRequestSchema, (request) => taskStore.listTasks(request.params?.cursor));
  server.setRequestHandler(CancelTaskRequestSchema, (request) => taskStore.cancelTask(request.params.taskId));

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: (await parts.directory.list()).map(({ alias, tool }) => gatewayTool(alias, tool) as Tool),
  }));

  server.setRequestHandler(CallToolRequestSchema, (request, extra) =>
    answering(async () => {
      const { callId, acceptedAt } = await submitToolCall(
        parts,
        principal,
        request.params.name,
        request.params.arguments,
        request.params.task !== undefined,
        request.params._meta?.traceparent,
      );
      if (request.params.task) {
        return {
          task: taskStore.toTask({
            taskId: callId,
            status: 'working',
            statusMessage: 'queued',
            createdAt: acceptedAt,
            lastUpdatedAt: acceptedAt,
          }),
        };
      }
      const progressToken = extra._meta?.progressToken;
      const onProgress =
        progressToken === undefined
          ? undefined
          : (event: ProgressEvent) =>
              extra.sendNotification({ method: 'notifications/progress', params: progressParams(progressToken, event) as never });
      const result = await waitForResult(parts, principal, callId, AbortSignal.any([extra.signal, hostGone]), onProgress);
      return result as CallToolResult;
    }),
  );

  return server;
}

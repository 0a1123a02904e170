/**
 * The gateway's MCP server for protocol 2026-07-28: the official SDK 2.x
 * handler (`createMcpHandler`: `server/discover`, the request envelope, its
 * headers and errors), with the tasks extension (`io.modelcontextprotocol/tasks`)
 * added by the gateway's own handlers, since the SDK does not implement it.
 *
 * A `tools/call` whose request declares the extension becomes a flat task
 * whose id is the mcpq call id; any other is answered synchronously.
 * `tasks/get` carries the result (or the JSON-RPC error) inline once the
 * call has ended; `tasks/cancel` is an mcpq cancel, acknowledged empty.
 */
import { createMcpHandler, Server, type AuthInfo, type McpHttpHandler, type ServerContext } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { ErrorCode, type Principal, type ProgressEvent } from '@mcpq/shared';
import { notFound, TASK_POLL_INTERVAL_MS, type CallTask } from './call-tasks.js';
import { GATEWAY_INFO, GATEWAY_INSTRUCTIONS } from './info.js';
import { answering, mcpqRpcError, resultError } from './jsonrpc-errors.js';
import { gatewayTool, progressParams, submitToolCall, waitForResult, type GatewayParts } from './tool-calls.js';

/** The MCP tasks extension of protocol 2026-07-28. */
export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

const CLIENT_CAPABILITIES_KEY = 'io.modelcontextprotocol/clientCapabilities';

const TaskIdParams = z.looseObject({ taskId: z.string() });

/** The principal of a request, carried to the server factory in the SDK's AuthInfo. */
export function authInfoFor(principal: Principal): AuthInfo {
  return { token: '', clientId: principal.tenant, scopes: [], extra: { principal } };
}

function principalOf(authInfo: AuthInfo | undefined): Principal {
  const principal = authInfo?.extra?.principal as Principal | undefined;
  // The gateway authenticates every request before it reaches the handler; no principal is a bug.
  if (!principal) throw mcpqRpcError(ErrorCode.internal, 'request reached the 2026-07-28 handler without a principal');
  return principal;
}

/** One SDK 2.x handler for every 2026-07-28 request (2025-era requests are routed to the legacy server before it). */
export function createModernHandler(parts: GatewayParts, maxRequestBodySize: number): McpHttpHandler {
  return createMcpHandler((ctx) => createModernServer(parts, principalOf(ctx.authInfo)), { legacy: 'reject', maxRequestBodySize });
}

function createModernServer(parts: GatewayParts, principal: Principal): Server {
  const server = new Server(GATEWAY_INFO, {
    capabilities: { tools: { listChanged: false }, extensions: { [TASKS_EXTENSION]: {} } },
    instructions: GATEWAY_INSTRUCTIONS,
  });

  server.setRequestHandler('tools/list', async () => ({
    tools: (await parts.directory.list()).map(({ alias, tool }) => gatewayTool(alias, tool)) as never,
  }));

  server.setRequestHandler('tools/call', (request, ctx) =>
    answering(async () => {
      const asTask = declaresTasks(ctx);
      const { callId, acceptedAt } = await submitToolCall(
        parts,
        principal,
        request.params.name,
        request.params.arguments,
        asTask,
        ctx.mcpReq._meta?.traceparent,
      );
      if (asTask) {
        return {
          resultType: 'task',
          ...flatTask(parts, {
            taskId: callId,
            status: 'working',
            statusMessage: 'queued',
            createdAt: acceptedAt,
            lastUpdatedAt: acceptedAt,
          }),
        } as never;
      }
      const progressToken = ctx.mcpReq._meta?.progressToken;
      const onProgress =
        progressToken === undefined
          ? undefined
          : (event: ProgressEvent) => ctx.mcpReq.notify({ method: 'notifications/progress', params: progressParams(progressToken, event) });
      return (await waitForResult(parts, principal, callId, ctx.mcpReq.signal, onProgress)) as never;
    }),
  );

  server.setRequestHandler('tasks/get', { params: TaskIdParams }, (params) =>
    answering(async () => {
      const task = await parts.tasks.get(principal, params.taskId);
      if (!task) throw notFound(params.taskId);
      const out: Record<string, unknown> = flatTask(parts, task);
      if (task.status === 'working' || task.status === 'input_required') return out;
      // Ended: the result, or the error the host would have got synchronously, inline.
      const result = await parts.tasks.result(principal, task.taskId);
      if (result.status === 'completed' && result.result) out.result = result.result;
      else {
        const error = resultError(result);
        out.error = { code: error.code, message: error.message, data: error.data };
      }
      return out;
    }),
  );

  server.setRequestHandler('tasks/cancel', { params: TaskIdParams }, (params) =>
    answering(async () => {
      await parts.tasks.cancel(principal, params.taskId, 'cancelled through the mcpq gateway');
      return {};
    }),
  );

  return server;
}

/** Whether the request declares the tasks extension in its client capabilities (then a tools/call becomes a task). */
function declaresTasks(ctx: ServerContext): boolean {
  const envelope = ctx.mcpReq.envelope as Record<string, { extensions?: Record<string, unknown> } | undefined> | undefined;
  return envelope?.[CLIENT_CAPABILITIES_KEY]?.extensions?.[TASKS_EXTENSION] !== undefined;
}

function flatTask(parts: GatewayParts, task: CallTask): Record<string, unknown> {
  return { ...task, ttlMs: parts.taskTtlMs, pollIntervalMs: TASK_POLL_INTERVAL_MS };
}

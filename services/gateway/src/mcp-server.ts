/**
 * The gateway's MCP server (SDK 1.x `Server`, protocol 2025-11-25), built
 * for one HTTP request and one principal: `tools/list` from the server
 * catalog, `tools/call` as an mcpq call — answered when it ends, or at once
 * as a task when the host asks for one — and the SDK's `tasks/*` handlers
 * over mcpq's state (McpqTaskStore).
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { ErrorCode, type Principal } from '@mcpq/shared';
import type { McpqClient } from '@mcpq/client';
import type { CallTasks } from './call-tasks.js';
import { mcpqJsonRpcError, resultError } from './jsonrpc-errors.js';
import { McpqTaskStore } from './task-store.js';
import { TOOL_NAME_SEPARATOR, type ToolDirectory } from './tool-directory.js';
import { GATEWAY_INFO, GATEWAY_INSTRUCTIONS } from './info.js';

export interface GatewayParts {
  client: McpqClient;
  tasks: CallTasks;
  directory: ToolDirectory;
  /** Task time to live reported to hosts (how long results stay replayable). */
  taskTtlMs: number;
  /** Cancel a synchronous call when its host stops waiting (`gateway.cancelOnDisconnect`). */
  cancelOnDisconnect: boolean;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** The SDK server for one request of `principal`; `hostGone` aborts when the host's HTTP connection closes before the answer. */
export function createGatewayServer(parts: GatewayParts, principal: Principal, hostGone: AbortSignal): Server {
  const taskStore = new McpqTaskStore(parts.tasks, principal, parts.taskTtlMs);
  const server = new Server(GATEWAY_INFO, {
    capabilities: {
      tools: { listChanged: false },
      tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
    },
    instructions: GATEWAY_INSTRUCTIONS,
    taskStore,
  });

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: (await parts.directory.list()).map(({ alias, tool }) => gatewayTool(alias, tool)),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { name } = request.params;
    const resolved = await parts.directory.resolve(name);
    if (!resolved) {
      throw mcpqJsonRpcError(
        ErrorCode.unknown_tool,
        `unknown tool "${name}": gateway tools are named <server>${TOOL_NAME_SEPARATOR}<tool> after a configured server and one of its tools (tools/list)`,
      );
    }
    if (principal.readOnly) throw mcpqJsonRpcError(ErrorCode.forbidden, 'this token is read-only: it cannot call tools');
    const { callId, acceptedAt } = await parts.tasks.submit(principal, {
      server: resolved.alias,
      tool: resolved.tool.name,
      arguments: request.params.arguments,
    });
    if (request.params.task) {
      return {
        task: taskStore.toTask({ taskId: callId, status: 'working', statusMessage: 'queued', createdAt: acceptedAt, lastUpdatedAt: acceptedAt }),
      };
    }
    return waitForResult(parts, principal, callId, extra, hostGone);
  });

  return server;
}

/** A catalog tool as the gateway lists it: renamed, and callable as a task whatever the upstream says (mcpq makes it durable). */
function gatewayTool(alias: string, tool: Record<string, unknown> & { name: string }): Tool {
  const { name, execution, inputSchema, ...rest } = tool;
  return {
    ...rest,
    name: `${alias}${TOOL_NAME_SEPARATOR}${name}`,
    inputSchema: (inputSchema ?? { type: 'object' }) as Tool['inputSchema'],
    execution: { ...(execution as object | undefined), taskSupport: 'optional' },
  } as Tool;
}

/**
 * The synchronous path: relays the call's progress (when the host gave a
 * progress token) and answers with its result. A host that stops waiting
 * (disconnect, notifications/cancelled) leaves the call running unless
 * `cancelOnDisconnect`; its result can be fetched later by call id.
 */
async function waitForResult(parts: GatewayParts, principal: Principal, callId: string, extra: Extra, hostGone: AbortSignal): Promise<CallToolResult> {
  const progressToken = extra._meta?.progressToken;
  const stop = AbortSignal.any([extra.signal, hostGone]);
  for await (const event of parts.client.watch(callId, { signal: stop })) {
    if (event.type === 'progress' && progressToken !== undefined) {
      await extra
        .sendNotification({
          method: 'notifications/progress',
          params: {
            progressToken,
            progress: event.progress,
            ...(event.total !== undefined ? { total: event.total } : {}),
            ...(event.message !== undefined ? { message: event.message } : {}),
          },
        })
        .catch(() => undefined); // a host that left misses progress; the result is what matters
    }
    if (event.type === 'result') {
      if (event.status === 'completed' && event.result) return event.result as CallToolResult;
      throw resultError(event);
    }
  }
  if (parts.cancelOnDisconnect) await parts.tasks.cancel(principal, callId, 'the MCP host disconnected from the gateway').catch(() => undefined);
  throw mcpqJsonRpcError(
    ErrorCode.cancelled,
    parts.cancelOnDisconnect ? `the host stopped waiting: call ${callId} was cancelled` : `the host stopped waiting: call ${callId} goes on`,
    { callId },
  );
}

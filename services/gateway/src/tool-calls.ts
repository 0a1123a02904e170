/**
 * What both protocol eras do with a tool: list it under its gateway name,
 * turn a call into an mcpq call, and — on the synchronous path — follow it
 * to its result, relaying progress.
 */
import {
  ErrorCode,
  parseTraceparent,
  type CatalogTool,
  type Logger,
  type Principal,
  type ProgressEvent,
  type ResultEvent,
} from '@mcpq/shared';
import type { McpqClient } from '@mcpq/client';
import type { ArgumentCheck } from './argument-check.js';
import type { CallTasks } from './call-tasks.js';
import { mcpqRpcError, resultError } from './jsonrpc-errors.js';
import { TOOL_NAME_SEPARATOR, type ToolDirectory } from './tool-directory.js';

export interface GatewayParts {
  client: McpqClient;
  tasks: CallTasks;
  directory: ToolDirectory;
  arguments: ArgumentCheck;
  /** Task time to live reported to hosts (how long results stay replayable). */
  taskTtlMs: number;
  /** Cancel a synchronous call when its host stops waiting (`gateway.cancelOnDisconnect`). */
  cancelOnDisconnect: boolean;
  logger: Logger;
}

/** A tool result as the upstream server sent it (content, structuredContent, isError, ...). */
export type ToolResult = Record<string, unknown>;

/** A catalog tool as the gateway lists it: renamed, and callable as a task whatever the upstream says (mcpq makes it durable). */
export function gatewayTool(alias: string, tool: CatalogTool): Record<string, unknown> & { name: string } {
  const { name, execution, inputSchema, ...rest } = tool;
  return {
    ...rest,
    name: `${alias}${TOOL_NAME_SEPARATOR}${name}`,
    inputSchema: inputSchema ?? { type: 'object' },
    execution: { ...execution, taskSupport: 'optional' },
  };
}

/** Resolves a gateway tool name, checks the arguments and queues the call for `principal`; throws `unknown_tool`, `invalid_arguments` or `forbidden` as JSON-RPC errors. */
export async function submitToolCall(
  parts: GatewayParts,
  principal: Principal,
  name: string,
  args: Record<string, unknown> | undefined,
  asTask: boolean,
  /** The host's `_meta.traceparent`, if any: a valid one makes the call part of the host's trace. */
  traceparent?: unknown,
): Promise<{ callId: string; acceptedAt: string }> {
  const resolved = await parts.directory.resolve(name);
  if (!resolved) {
    throw mcpqRpcError(
      ErrorCode.unknown_tool,
      `unknown tool "${name}": gateway tools are named <server>${TOOL_NAME_SEPARATOR}<tool> after a configured server and one of its tools (tools/list)`,
    );
  }
  if (principal.readOnly) throw mcpqRpcError(ErrorCode.forbidden, 'this token is read-only: it cannot call tools');
  const problem = parts.arguments.problem(resolved.tool.inputSchema, args ?? {});
  if (problem) throw mcpqRpcError(ErrorCode.invalid_arguments, `invalid arguments for ${name}: ${problem}`);
  // Anything but a well-formed W3C traceparent is ignored: the call then starts a trace of its own.
  const hostTrace = typeof traceparent === 'string' && parseTraceparent(traceparent) ? traceparent.trim() : undefined;
  const accepted = await parts.tasks.submit(principal, {
    server: resolved.alias,
    tool: resolved.tool.name,
    arguments: args,
    traceparent: hostTrace,
  });
  // The call id in the log is how an operator finds a call whose host went away (mcpq result <callId>).
  parts.logger.info(
    { callId: accepted.callId, tenant: principal.tenant, server: resolved.alias, tool: resolved.tool.name, task: asTask },
    'call queued for an MCP host',
  );
  return accepted;
}

/**
 * The synchronous path: answers with the call's result, relaying its
 * progress when the host asked for it (`onProgress`: the call's events are
 * then followed; otherwise only its result is awaited, which is cheaper). A
 * host that stops waiting (`signal`: it closed the response stream) leaves
 * the call running unless `cancelOnDisconnect`; its result can be fetched
 * later by call id.
 */
export async function waitForResult(
  parts: GatewayParts,
  principal: Principal,
  callId: string,
  signal: AbortSignal,
  onProgress?: (event: ProgressEvent) => Promise<void>,
): Promise<ToolResult> {
  const result = onProgress
    ? await followToResult(parts.client, callId, signal, onProgress)
    : await parts.client.result(callId, { signal }).catch((err: unknown) => {
        if (signal.aborted) return undefined;
        throw err;
      });
  if (result) {
    if (result.status === 'completed' && result.result) return result.result as ToolResult;
    throw resultError(result);
  }
  if (parts.cancelOnDisconnect)
    await parts.tasks.cancel(principal, callId, 'the MCP host disconnected from the gateway').catch(() => undefined);
  throw mcpqRpcError(
    ErrorCode.cancelled,
    parts.cancelOnDisconnect
      ? `the host stopped waiting: call ${callId} was cancelled`
      : `the host stopped waiting: call ${callId} goes on`,
    { callId },
  );
}

/** Every event of the call until its result (returned), relaying progress; undefined when `signal` stopped the wait first. */
async function followToResult(
  client: McpqClient,
  callId: string,
  signal: AbortSignal,
  onProgress: (event: ProgressEvent) => Promise<void>,
): Promise<ResultEvent | undefined> {
  for await (const event of client.watch(callId, { signal })) {
    if (event.type === 'progress') {
      const { type: _type, ...progress } = event;
      await onProgress(progress).catch(() => undefined); // a host that left misses progress; the result is what matters
    }
    if (event.type === 'result') {
      const { type: _type, ...result } = event;
      return result;
    }
  }
  return undefined;
}

/** The `notifications/progress` params for an mcpq progress event. */
export function progressParams(progressToken: string | number, event: ProgressEvent): Record<string, unknown> {
  return {
    progressToken,
    progress: event.progress,
    ...(event.total !== undefined ? { total: event.total } : {}),
    ...(event.message !== undefined ? { message: event.message } : {}),
  };
}

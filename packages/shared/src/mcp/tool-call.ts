/**
 * The tools/call request mcpq sends, and how its answer becomes a call
 * outcome. The JSON-RPC id and the progress token are derived from the call
 * id and the dispatch attempt, so they are unique per session and a joiner
 * can recognise the call's own events on a stream that carries others.
 */
import type { Outcome } from '../calls/result.js';
import { clipText } from '../bounds/json.js';
import { type CallRequest, ErrorCode } from '@mcpq/contract';
import type { JsonRpcError, JsonRpcResult } from './jsonrpc.js';

/** `_meta` key carrying mcpq's call id to the MCP server (for its logs and dedupe). */
export const CALL_ID_META_KEY = 'io.mcpq/callId';

export interface ToolCallIds {
  requestId: string;
  progressToken: string;
}

export function toolCallIds(callId: string, attempt: number): ToolCallIds {
  const id = `mcpq-${callId}-${attempt}`;
  return { requestId: id, progressToken: id };
}

export interface ToolCallOptions {
  /** Ask for a task (task mode): `params.task = { ttl }`. */
  taskTtlMs?: number | undefined;
  traceparent?: string | undefined;
}

export function toolCallMessage(
  ids: ToolCallIds,
  callId: string,
  request: CallRequest,
  options: ToolCallOptions = {},
): Record<string, unknown> {
  const meta: Record<string, unknown> = { ...request.meta, progressToken: ids.progressToken, [CALL_ID_META_KEY]: callId };
  if (options.traceparent) meta.traceparent = options.traceparent;
  const params: Record<string, unknown> = { name: request.tool, arguments: request.arguments ?? {}, _meta: meta };
  if (options.taskTtlMs !== undefined) params.task = { ttl: options.taskTtlMs };
  return { jsonrpc: '2.0', id: ids.requestId, method: 'tools/call', params };
}

/** The outcome of a tools/call response: a result (even with isError) completes the call; a JSON-RPC error fails it. */
export function outcomeOfResponse(message: JsonRpcResult | JsonRpcError): Outcome {
  if ('result' in message) return { status: 'completed', result: message.result };
  const e = message.error;
  return {
    status: 'failed',
    error: {
      code: e.code === -32602 ? ErrorCode.invalid_arguments : ErrorCode.upstream_error,
      message: `MCP server answered with JSON-RPC error ${e.code}: ${clipText(String(e.message))}`,
      data: { jsonrpcCode: e.code, ...(e.data !== undefined ? { data: e.data } : {}) },
    },
  };
}

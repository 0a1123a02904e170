/**
 * How mcpq's failures reach an MCP host: as JSON-RPC errors whose `data.code`
 * is the stable mcpq error code (docs/errors.md), so a host can branch on it.
 * A tool error (`isError: true`) is not a failure: it is passed on as the
 * result the server sent.
 */
import { ErrorCode as JsonRpcCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode, isMcpqError, type ResultEvent } from '@mcpq/shared';

/** The JSON-RPC code for each mcpq code the host can do something about; everything else is -32603. */
const JSONRPC_CODE: Partial<Record<string, number>> = {
  [ErrorCode.invalid_request]: JsonRpcCode.InvalidParams,
  [ErrorCode.unknown_server]: JsonRpcCode.InvalidParams,
  [ErrorCode.unknown_tool]: JsonRpcCode.InvalidParams,
  [ErrorCode.invalid_arguments]: JsonRpcCode.InvalidParams,
  [ErrorCode.arguments_too_large]: JsonRpcCode.InvalidParams,
  [ErrorCode.not_found]: JsonRpcCode.InvalidParams,
  [ErrorCode.forbidden]: JsonRpcCode.InvalidRequest,
  [ErrorCode.timeout]: JsonRpcCode.RequestTimeout,
};

/** A JSON-RPC error carrying an mcpq code (and the call id, when there is one). */
export function mcpqJsonRpcError(code: string, message: string, extra: Record<string, unknown> = {}): McpError {
  return new McpError(JSONRPC_CODE[code] ?? JsonRpcCode.InternalError, message, { code, ...extra });
}

/**
 * The JSON-RPC error for a call that ended without a result. An upstream
 * JSON-RPC error keeps the server's own code, so the host sees what the server said.
 */
export function resultError(result: ResultEvent): McpError {
  const error = result.error ?? { code: ErrorCode.internal, message: `call ended ${result.status} without a result` };
  const data = error.data as { jsonrpcCode?: unknown } | undefined;
  if (error.code === ErrorCode.upstream_error && typeof data?.jsonrpcCode === 'number') {
    return new McpError(data.jsonrpcCode, error.message, { code: error.code, callId: result.callId, data: error.data });
  }
  return mcpqJsonRpcError(error.code, error.message, { callId: result.callId, ...(error.data !== undefined ? { data: error.data } : {}) });
}

/** Any error thrown while handling a request, as a JSON-RPC error (McpErrors pass through). */
export function toJsonRpcError(err: unknown): McpError {
  if (err instanceof McpError) return err;
  if (isMcpqError(err)) return mcpqJsonRpcError(err.code, err.message);
  return mcpqJsonRpcError(ErrorCode.internal, err instanceof Error ? err.message : String(err));
}

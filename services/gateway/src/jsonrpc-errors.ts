/**
 * How mcpq's failures reach an MCP host: as JSON-RPC errors whose `data.code`
 * is the stable mcpq error code (docs/errors.md), so a host can branch on it.
 * A tool error (`isError: true`) is not a failure: it is passed on as the
 * result the server sent. Both SDK servers (1.x and 2.x) answer a handler's
 * thrown error with its numeric `code`, `message` and `data`, so one error
 * class serves both protocol eras.
 */
import { ErrorCode, isMcpqError, type ResultEvent } from '@mcpq/shared';

/** JSON-RPC error codes the gateway answers with. */
export const JsonRpcCode = {
  InvalidRequest: -32600,
  InvalidParams: -32602,
  InternalError: -32603,
  RequestTimeout: -32001,
} as const;

/** A JSON-RPC error answered to the host as it is. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

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
export function mcpqRpcError(code: string, message: string, extra: Record<string, unknown> = {}): RpcError {
  return new RpcError(JSONRPC_CODE[code] ?? JsonRpcCode.InternalError, message, { code, ...extra });
}

/**
 * The JSON-RPC error for a call that ended without a result. An upstream
 * JSON-RPC error keeps the server's own code, so the host sees what the server said.
 */
export function resultError(result: ResultEvent): RpcError {
  const error = result.error ?? { code: ErrorCode.internal, message: `call ended ${result.status} without a result` };
  const data = error.data as { jsonrpcCode?: unknown } | undefined;
  if (error.code === ErrorCode.upstream_error && typeof data?.jsonrpcCode === 'number') {
    return new RpcError(data.jsonrpcCode, error.message, { code: error.code, callId: result.callId, data: error.data });
  }
  return mcpqRpcError(error.code, error.message, { callId: result.callId, ...(error.data !== undefined ? { data: error.data } : {}) });
}

/** Runs a request handler so that whatever it throws reaches the host as a JSON-RPC error with an mcpq code. */
export async function answering<T>(handler: () => Promise<T>): Promise<T> {
  try {
    return await handler();
  } catch (err) {
    throw toRpcError(err);
  }
}

/** Any error thrown while handling a request, as a JSON-RPC error (RpcErrors pass through). */
export function toRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  if (isMcpqError(err)) return mcpqRpcError(err.code, err.message);
  return mcpqRpcError(ErrorCode.internal, err instanceof Error ? err.message : String(err));
}

/**
 * Stable error codes. A code is part of the wire contract (it appears in
 * `result.error.code` and on dead letters) and of the client API: callers
 * branch on codes, never on message text. docs/errors.md explains each one.
 */
export const ErrorCode = {
  /** The submitted payload is not JSON or does not match the CallRequest schema. */
  invalid_request: 'invalid_request',
  /** The server alias in the subject is not configured. */
  unknown_server: 'unknown_server',
  /** The MCP server does not list the requested tool. */
  unknown_tool: 'unknown_tool',
  /** The MCP server rejected the arguments (JSON-RPC -32602). */
  invalid_arguments: 'invalid_arguments',
  /** The arguments are larger than `limits.maxArgumentsBytes`. */
  arguments_too_large: 'arguments_too_large',
  /** `arguments` or `meta` are nested deeper than `limits.maxArgumentsDepth`. */
  arguments_too_deep: 'arguments_too_deep',
  /** An HTTP answer of the MCP server (a JSON body or one SSE event) is larger than `limits.maxResponseBytes`. */
  response_too_large: 'response_too_large',
  /** The MCP server answered with a redirect; mcpq does not follow it (the configured credentials would go along). */
  redirect_refused: 'redirect_refused',
  /** A call with this callId already exists; the new submission was not run. */
  duplicate_call_id: 'duplicate_call_id',
  /** The MCP server could not be reached (after retries). */
  server_unreachable: 'server_unreachable',
  /** The MCP server no longer knows the session (restarted or expired it). */
  session_lost: 'session_lost',
  /** The call may or may not have run: a process died between sending and recording it. */
  outcome_unknown: 'outcome_unknown',
  /** The configured or detected rejoin mode cannot be used with this server or tool. */
  mode_unsupported: 'mode_unsupported',
  /** The MCP server answered the call with a JSON-RPC error. */
  upstream_error: 'upstream_error',
  /** The MCP server needs a client capability mcpq did not declare (MCP 2026-07-28, JSON-RPC -32021). */
  client_capability_required: 'client_capability_required',
  /** A 2026-07-28 server answered tools/call with `input_required` (it asks the client for input), which mcpq cannot answer through the queue yet. */
  input_required: 'input_required',
  /** The MCP server sent something that is not valid MCP. */
  protocol_error: 'protocol_error',
  /** The tool's result is larger than `limits.maxResultBytes`; it was not kept. */
  result_too_large: 'result_too_large',
  /** The call was cancelled on request. */
  cancelled: 'cancelled',
  /** The call passed its deadline (`timeoutMs`). */
  timeout: 'timeout',
  /** A message was delivered too many times without being handled. */
  delivery_exhausted: 'delivery_exhausted',
  /** A bug in mcpq; the message says where. */
  internal: 'internal',
  /** A configuration value is invalid (start-up only). */
  config_invalid: 'config_invalid',
  /** No call with this id is known. */
  not_found: 'not_found',
  /** A client-side wait (result(), watch()) ran out of time. */
  wait_timeout: 'wait_timeout',
  /** A compare-and-set on a call record lost to another writer (internal: the loser stops quietly). */
  record_conflict: 'record_conflict',
  /** NATS is unreachable or refused an operation. */
  nats_error: 'nats_error',
  /** An HTTP face (console, gateway) got no valid bearer token or session. */
  unauthorized: 'unauthorized',
  /** An HTTP face refused an action to this principal (read-only token, missing CSRF proof). */
  forbidden: 'forbidden',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface McpqErrorOptions {
  /** Extra, JSON-serialisable detail (goes to `error.data` on the wire). */
  data?: unknown;
  /** True when trying again later may succeed (network, 5xx, 429). */
  retryable?: boolean;
  /** Milliseconds the other side asked us to wait before retrying (Retry-After). */
  retryAfterMs?: number;
  cause?: unknown;
}

/** The one error class of mcpq: every failure that leaves a module carries a stable code. */
export class McpqError extends Error {
  readonly code: ErrorCode;
  readonly data?: unknown;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;

  constructor(code: ErrorCode, message: string, options: McpqErrorOptions = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'McpqError';
    this.code = code;
    this.data = options.data;
    this.retryable = options.retryable ?? false;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }

  /** The wire form used in `result.error` and dead letters. */
  toWire(): { code: ErrorCode; message: string; data?: unknown } {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

export function isMcpqError(err: unknown, code?: ErrorCode): err is McpqError {
  return err instanceof McpqError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into an McpqError, keeping McpqErrors as they are. */
export function toMcpqError(err: unknown, fallback: ErrorCode = ErrorCode.internal): McpqError {
  if (err instanceof McpqError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new McpqError(fallback, message, { cause: err });
}

/** A short, log-friendly description of any thrown value, including its cause chain. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 4; depth++) {
    if (cur instanceof Error) {
      const code = (cur as { code?: unknown }).code;
      parts.push(code !== undefined ? `${cur.message} [${String(code)}]` : cur.message);
      cur = (cur as { cause?: unknown }).cause;
    } else {
      parts.push(String(cur));
      break;
    }
  }
  return parts.join(' <- ');
}

/**
 * Minimal JSON-RPC 2.0 classification for the hot path (every SSE event of
 * every followed call goes through here), without a schema library.
 */

export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: Record<string, unknown>;
}
export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}
export interface JsonRpcResult {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result: Record<string, unknown>;
}
export interface JsonRpcError {
  jsonrpc: '2.0';
  id: JsonRpcId | null;
  error: { code: number; message: string; data?: unknown };
}

export type JsonRpcMessage =
  | { kind: 'request'; message: JsonRpcRequest }
  | { kind: 'notification'; message: JsonRpcNotification }
  | { kind: 'result'; message: JsonRpcResult }
  | { kind: 'error'; message: JsonRpcError };

/** A JSON object (not null, not an array): what every reader of untrusted JSON checks before it looks inside. */
export const isJsonObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is JsonRpcId => typeof v === 'string' || typeof v === 'number';

/** Classifies a parsed JSON value; undefined when it is not a JSON-RPC 2.0 message. */
export function classify(value: unknown): JsonRpcMessage | undefined {
  if (!isJsonObject(value) || value.jsonrpc !== '2.0') return undefined;
  if (typeof value.method === 'string') {
    if (value.params !== undefined && !isJsonObject(value.params)) return undefined;
    return isId(value.id)
      ? { kind: 'request', message: value as unknown as JsonRpcRequest }
      : { kind: 'notification', message: value as unknown as JsonRpcNotification };
  }
  if (isJsonObject(value.error) && typeof value.error.code === 'number' && (isId(value.id) || value.id === null)) {
    return { kind: 'error', message: value as unknown as JsonRpcError };
  }
  if (isId(value.id) && isJsonObject(value.result)) return { kind: 'result', message: value as unknown as JsonRpcResult };
  return undefined;
}

/** Parses SSE event data; undefined for empty data (priming events) and non-JSON-RPC payloads. */
export function parseEventData(data: string): JsonRpcMessage | undefined {
  if (data.length === 0) return undefined;
  try {
    return classify(JSON.parse(data));
  } catch {
    return undefined;
  }
}

/** JSON-RPC ids are compared by value and type, as the spec says. */
export function sameId(a: JsonRpcId | null | undefined, b: JsonRpcId | null | undefined): boolean {
  return a !== undefined && a !== null && a === b;
}

/**
 * MCP protocol revision 2026-07-28 on the wire, as mcpq speaks it: the
 * per-request `_meta` envelope, the routing headers (`Mcp-Method`,
 * `Mcp-Name`, `Mcp-Param-*`), the `resultType` of a result, and the
 * revision's JSON-RPC error codes as McpqErrors.
 * Spec: docs/specification/2026-07-28/basic/transports/streamable-http.mdx,
 * basic/versioning.mdx, basic/patterns/mrtr.mdx; tasks: seps/2663-tasks-extension.md.
 */
import { ErrorCode, McpqError } from '@mcpq/contract';
import { CLIENT_INFO } from './client-info.js';
import { isJsonObject } from './jsonrpc.js';

/** The two protocol eras mcpq speaks; a call's `protocol` field holds one. */
export type ProtocolEra = '2025-11-25' | '2026-07-28';
export const MODERN_PROTOCOL_VERSION = '2026-07-28' satisfies ProtocolEra;
export const LEGACY_PROTOCOL_VERSION = '2025-11-25' satisfies ProtocolEra;

export const PROTOCOL_VERSION_META_KEY = 'io.modelcontextprotocol/protocolVersion';
export const CLIENT_CAPABILITIES_META_KEY = 'io.modelcontextprotocol/clientCapabilities';
export const CLIENT_INFO_META_KEY = 'io.modelcontextprotocol/clientInfo';
/** Where a 2026-07-28 result names its server (`_meta`; SDK 2.x puts it there on `server/discover`). */
export const SERVER_INFO_META_KEY = 'io.modelcontextprotocol/serverInfo';
/** The tasks extension (SEP-2663): declared per request in `clientCapabilities.extensions`. */
export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/** JSON-RPC error codes new in 2026-07-28 (all answered with HTTP 400). */
export const JsonRpcCode2026 = {
  /** Headers and body disagree, or a required header is missing. */
  headerMismatch: -32020,
  /** The request needs a client capability it did not declare (`data.requiredCapabilities`). */
  missingClientCapability: -32021,
  /** The server does not serve the requested version (`data.supported`). */
  unsupportedProtocolVersion: -32022,
} as const;
const MODERN_ERROR_CODES: ReadonlySet<number> = new Set(Object.values(JsonRpcCode2026));
export const METHOD_NOT_FOUND = -32601;

/** Client capabilities mcpq declares on a request; `tasks` adds the tasks extension. */
export function clientCapabilities(tasks: boolean, base: Record<string, unknown> = {}): Record<string, unknown> {
  if (!tasks) return base;
  const extensions = (base.extensions as Record<string, unknown> | undefined) ?? {};
  return { ...base, extensions: { ...extensions, [TASKS_EXTENSION]: {} } };
}

/** `params` with the 2026-07-28 `_meta` envelope added (the caller's own `_meta` keys are kept). */
export function withEnvelope(params: Record<string, unknown> | undefined, capabilities: Record<string, unknown>): Record<string, unknown> {
  const meta = (params?._meta as Record<string, unknown> | undefined) ?? {};
  return {
    ...params,
    _meta: {
      ...meta,
      [PROTOCOL_VERSION_META_KEY]: MODERN_PROTOCOL_VERSION,
      [CLIENT_CAPABILITIES_META_KEY]: capabilities,
      [CLIENT_INFO_META_KEY]: CLIENT_INFO,
    },
  };
}

/**
 * The routing headers of a request: `Mcp-Method` always; `Mcp-Name` with the
 * tool name on tools/call and with the task id on `tasks/*` (SEP-2663,
 * "Streamable HTTP: Routing Headers"). `MCP-Protocol-Version` comes from the
 * session, as for every request.
 */
export function routingHeaders(method: string, params: Record<string, unknown> | undefined): Record<string, string> {
  const headers: Record<string, string> = { 'mcp-method': method };
  const name = method.startsWith('tasks/') ? params?.taskId : (params?.name ?? params?.uri);
  if (typeof name === 'string') headers['mcp-name'] = headerValue(name);
  return headers;
}

const BASE64_SENTINEL = /^=\?base64\?.*\?=$/s;

/**
 * A value as an HTTP header value: as is when it is plain visible ASCII
 * (spaces inside allowed), else `=?base64?…?=` of its UTF-8 bytes (also for
 * a value that looks like the sentinel itself).
 */
export function headerValue(value: string): string {
  const plain = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(value) && !BASE64_SENTINEL.test(value);
  return plain ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** One argument a tool mirrors into a header: `Mcp-Param-<header>` from the value at `path`. */
export interface ParamHeader {
  header: string;
  path: string[];
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The `x-mcp-header` marks of a tool's inputSchema. Throws a protocol_error
 * when a mark breaks the spec's rules (the client must then not offer the
 * tool): not a header token, not unique, on a non-primitive or `number`
 * property, or not reachable through `properties` alone.
 */
export function paramHeadersOf(tool: string, inputSchema: Record<string, unknown> | undefined): ParamHeader[] {
  const found: ParamHeader[] = [];
  const invalid = (why: string) =>
    new McpqError(ErrorCode.protocol_error, `tool ${tool}: invalid x-mcp-header: ${why}`, { data: { tool } });
  const walk = (schema: unknown, path: string[], reachable: boolean, depth: number): void => {
    if (!isJsonObject(schema) || depth > 32) return;
    const mark = schema['x-mcp-header'];
    if (mark !== undefined) {
      if (!reachable || path.length === 0) throw invalid(`"${String(mark)}" is not on a property reachable through properties alone`);
      if (typeof mark !== 'string' || !TOKEN.test(mark)) throw invalid(`"${String(mark)}" is not an HTTP header name token`);
      if (!['string', 'integer', 'boolean'].includes(schema.type as string)) {
        throw invalid(`"${mark}" marks a property of type ${JSON.stringify(schema.type)} (only string, integer, boolean)`);
      }
      if (found.some((f) => f.header.toLowerCase() === mark.toLowerCase())) throw invalid(`"${mark}" is used twice`);
      found.push({ header: mark, path });
    }
    for (const [key, value] of Object.entries(schema)) {
      if (key === 'properties' && isJsonObject(value)) {
        for (const [name, sub] of Object.entries(value)) walk(sub, [...path, name], reachable, depth + 1);
      } else if (Array.isArray(value)) {
        // Marks under items, anyOf, $defs, ... are not statically reachable: walked only to reject them.
        for (const sub of value) walk(sub, [...path, key], false, depth + 1);
      } else if (isJsonObject(value)) {
        walk(value, [...path, key], false, depth + 1);
      }
    }
  };
  walk(inputSchema, [], true, 0);
  return found;
}

/** The `Mcp-Param-*` headers of one call; a marked argument that is absent gives no header. */
export function paramHeaders(marks: ParamHeader[], args: Record<string, unknown> | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const { header, path } of marks) {
    let value: unknown = args;
    for (const key of path) value = isJsonObject(value) ? value[key] : undefined;
    if (value === undefined || value === null) continue;
    const text = typeof value === 'string' ? value : typeof value === 'boolean' || Number.isSafeInteger(value) ? String(value) : undefined;
    if (text === undefined) {
      throw new McpqError(
        ErrorCode.invalid_arguments,
        `argument ${path.join('.')} (header Mcp-Param-${header}) must be a string, boolean or safe integer`,
      );
    }
    headers[`mcp-param-${header.toLowerCase()}`] = headerValue(text);
  }
  return headers;
}

/** The flat task a server answers tools/call with (`resultType: "task"`), or `tasks/get` returns. */
export interface ModernTask {
  taskId: string;
  status: 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled' | (string & {});
  statusMessage?: string | undefined;
  createdAt?: string | undefined;
  lastUpdatedAt?: string | undefined;
  /** Null: no limit. */
  ttlMs?: number | null | undefined;
  pollIntervalMs?: number | undefined;
}

/** The server needs input from the client before it can go on (2026-07-28 replaces server-to-client requests with this). */
export interface InputRequired {
  kind: 'input_required';
  /** Requests keyed by the server's ids (elicitation/create, sampling/createMessage, roots/list). */
  inputRequests: Record<string, unknown>;
  /** Opaque state to echo back on the retried request. */
  requestState?: string | undefined;
}

/** What a 2026-07-28 result is, by its `resultType`. */
export type ModernAnswer = { kind: 'complete'; result: Record<string, unknown> } | { kind: 'task'; task: ModernTask } | InputRequired;

/**
 * Reads a result's `resultType`. An absent one is taken as `complete` (the
 * spec requires it of 2026 servers, but nothing is lost by being lenient);
 * an unknown one is a protocol_error, never a silent success.
 */
export function parseModernResult(result: Record<string, unknown>, method: string): ModernAnswer {
  const type = result.resultType ?? 'complete';
  switch (type) {
    case 'complete':
      return { kind: 'complete', result };
    case 'task': {
      const task = parseTask(result, method);
      return { kind: 'task', task };
    }
    case 'input_required': {
      const inputRequests = isJsonObject(result.inputRequests) ? result.inputRequests : {};
      const requestState = typeof result.requestState === 'string' ? result.requestState : undefined;
      if (!isJsonObject(result.inputRequests) && requestState === undefined) {
        throw new McpqError(ErrorCode.protocol_error, `${method}: input_required result has neither inputRequests nor requestState`);
      }
      return { kind: 'input_required', inputRequests, requestState };
    }
    default:
      throw new McpqError(ErrorCode.protocol_error, `${method}: unknown resultType ${JSON.stringify(type)}`, {
        data: { resultType: type },
      });
  }
}

/** A task's fields, checked. */
export function parseTask(value: Record<string, unknown>, method: string): ModernTask {
  if (typeof value.taskId !== 'string' || value.taskId.length === 0 || typeof value.status !== 'string') {
    throw new McpqError(ErrorCode.protocol_error, `${method}: a task needs a taskId and a status`);
  }
  return {
    taskId: value.taskId,
    status: value.status,
    statusMessage: typeof value.statusMessage === 'string' ? value.statusMessage : undefined,
    createdAt: typeof value.createdAt === 'string' ? value.createdAt : undefined,
    lastUpdatedAt: typeof value.lastUpdatedAt === 'string' ? value.lastUpdatedAt : undefined,
    ttlMs: typeof value.ttlMs === 'number' || value.ttlMs === null ? value.ttlMs : undefined,
    pollIntervalMs: typeof value.pollIntervalMs === 'number' && value.pollIntervalMs >= 0 ? value.pollIntervalMs : undefined,
  };
}

/** The JSON-RPC error carried by an HTTP error body, if the body is one. */
export function jsonRpcErrorOf(body: string): { code: number; message: string; data?: unknown } | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    const error = isJsonObject(parsed) ? parsed.error : undefined;
    if (isJsonObject(error) && typeof error.code === 'number') {
      return { code: error.code, message: typeof error.message === 'string' ? error.message : '', data: error.data };
    }
  } catch {
    // not JSON: no JSON-RPC error
  }
  return undefined;
}

/**
 * A 2026-07-28 JSON-RPC error as an McpqError, or undefined for other codes.
 * -32020 (header mismatch) and -32022 (unsupported version) are protocol_error:
 * mcpq and the server disagree on the protocol (phase 2 re-reads tools/list or
 * re-probes the era first); -32021 is client_capability_required: the tool
 * needs something mcpq did not declare. `data.jsonrpcCode` keeps the code.
 */
export function modernError(
  error: { code: number; message: string; data?: unknown },
  httpStatus: number,
  what: string,
): McpqError | undefined {
  if (!MODERN_ERROR_CODES.has(error.code)) return undefined;
  const data = { httpStatus, jsonrpcCode: error.code, message: error.message, ...(error.data !== undefined ? { data: error.data } : {}) };
  switch (error.code) {
    case JsonRpcCode2026.headerMismatch:
      return new McpqError(ErrorCode.protocol_error, `${what}: the server says headers and body disagree: ${error.message}`, { data });
    case JsonRpcCode2026.missingClientCapability:
      return new McpqError(
        ErrorCode.client_capability_required,
        `${what}: the server needs a client capability mcpq did not declare: ${error.message}`,
        { data },
      );
    default: {
      const supported = isJsonObject(error.data) && Array.isArray(error.data.supported) ? error.data.supported : [];
      return new McpqError(
        ErrorCode.protocol_error,
        `${what}: the server does not serve protocol ${MODERN_PROTOCOL_VERSION} (it serves ${JSON.stringify(supported)})`,
        { data },
      );
    }
  }
}

/** Whether an McpqError carries one of the 2026-07-28 error codes (in `data.jsonrpcCode`). */
export function modernErrorCodeOf(err: unknown): number | undefined {
  if (!(err instanceof McpqError) || !isJsonObject(err.data)) return undefined;
  const code = err.data.jsonrpcCode;
  return typeof code === 'number' && MODERN_ERROR_CODES.has(code) ? code : undefined;
}

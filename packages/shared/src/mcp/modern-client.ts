/**
 * mcpq's client for MCP 2026-07-28 servers: stateless requests over the
 * lean HTTP client (same timeouts, error translation and SSE reader), each
 * with the `_meta` envelope and routing headers; tools/list cached for the
 * server's `ttlMs`; tools/call with `Mcp-Param-*` headers, declaring the
 * tasks extension when asked; and the extension's tasks/get, tasks/update,
 * tasks/cancel. There is no session and no resumption: closing a tools/call
 * stream cancels the call (the caller decides when to do that).
 */
import { ErrorCode, McpqError } from '@mcpq/contract';
import { readResponse, type McpHttpClient, type McpSession, type RequestOptions } from './http-client.js';
import { headerOf, type HttpAnswer } from './http-transport.js';
import {
  isJsonObject,
  parseEventData,
  sameId,
  type JsonRpcError,
  type JsonRpcId,
  type JsonRpcNotification,
  type JsonRpcResult,
} from './jsonrpc.js';
import {
  clientCapabilities,
  JsonRpcCode2026,
  MODERN_PROTOCOL_VERSION,
  modernErrorCodeOf,
  paramHeaders,
  paramHeadersOf,
  parseModernResult,
  parseTask,
  routingHeaders,
  withEnvelope,
  type ModernAnswer,
  type ModernTask,
  type ParamHeader,
} from './protocol-2026.js';
import type { ToolInfo } from './server-session.js';
import { readSse } from './sse.js';

/** The "session" of every 2026-07-28 request: no id, only the protocol version header. */
export const MODERN_SESSION: McpSession = Object.freeze({ protocolVersion: MODERN_PROTOCOL_VERSION });

export interface ModernClientOptions {
  /** Client capabilities declared on every request besides the tasks extension (default none). */
  capabilities?: Record<string, unknown>;
  /**
   * Least time a tools/list answer is trusted, even when the server's `ttlMs`
   * is 0 or absent (the spec's "immediately stale"): bounds tools/list
   * traffic to one per this many ms. A -32020 on tools/call refreshes at once.
   */
  minToolsFreshMs?: number;
  /** Told about each tool left out of the list because its `x-mcp-header` marks break the spec (the spec says to log it). */
  onRejectedTool?: (tool: string, reason: string) => void;
}

export interface ModernRequestOptions extends RequestOptions {
  /** Declare the tasks extension on this request (tools/call that may become a task; every tasks/* request). */
  tasks?: boolean;
}

/** A tool of a 2026-07-28 server, with its `x-mcp-header` marks read. */
export interface ModernTool extends ToolInfo {
  paramHeaders: ParamHeader[];
}

/** How a 2026-07-28 tools/call ended: a `resultType` answer, or a JSON-RPC error. */
export type ModernCallEnd = ModernAnswer | { kind: 'error'; error: JsonRpcError['error'] };

/** A task as `tasks/get` returns it: with the final result or error inline once it ends, and `inputRequests` while it waits. */
export interface TaskView {
  task: ModernTask;
  result?: Record<string, unknown> | undefined;
  error?: JsonRpcError['error'] | undefined;
  inputRequests?: Record<string, unknown> | undefined;
}

export class ModernMcpClient {
  readonly protocol = MODERN_PROTOCOL_VERSION;
  private tools?: { freshUntil: number; byName: Map<string, ModernTool> } | undefined;
  private toolsLoading?: Promise<Map<string, ModernTool>> | undefined;
  private readonly minToolsFreshMs: number;

  constructor(
    readonly http: McpHttpClient,
    private readonly options: ModernClientOptions = {},
  ) {
    this.minToolsFreshMs = options.minToolsFreshMs ?? 1_000;
  }

  /** A short request (not tools/call): returns its `resultType: complete` result. */
  async request(
    method: string,
    params: Record<string, unknown> | undefined,
    options: ModernRequestOptions = {},
  ): Promise<Record<string, unknown>> {
    const { tasks = false, ...rest } = options;
    const result = await this.http.request(MODERN_SESSION, method, withEnvelope(params, this.capabilities(tasks)), {
      ...rest,
      headers: { ...rest.headers, ...routingHeaders(method, params) },
    });
    const answer = parseModernResult(result, method);
    if (answer.kind !== 'complete') {
      throw new McpqError(ErrorCode.protocol_error, `${method} answered resultType "${answer.kind}", which only tools/call may`);
    }
    return answer.result;
  }

  /** The server's tools, from cache while fresh (server's `ttlMs`, at least `minToolsFreshMs`). */
  async toolList(refresh = false): Promise<Map<string, ModernTool>> {
    if (this.tools && !refresh && Date.now() < this.tools.freshUntil) return this.tools.byName;
    this.toolsLoading ??= this.fetchTools().finally(() => {
      this.toolsLoading = undefined;
    });
    return this.toolsLoading;
  }

  async tool(name: string, refresh = false): Promise<ModernTool | undefined> {
    return (await this.toolList(refresh)).get(name);
  }

  /**
   * Opens a tools/call: POSTs `message` (a JSON-RPC request built by
   * `toolCallMessage`) with the envelope and headers, and resolves with the
   * response once its headers arrive. Read it with `readCall`. Aborting
   * `options.signal` closes the stream, which cancels the call upstream.
   * A -32020 (headers refused) re-reads tools/list and sends once more: the
   * server refused the request before running it.
   */
  async openCall(message: Record<string, unknown>, options: ModernRequestOptions = {}): Promise<HttpAnswer> {
    const params = message.params as { name?: unknown; arguments?: Record<string, unknown> } & Record<string, unknown>;
    if (typeof params?.name !== 'string') throw new McpqError(ErrorCode.invalid_request, 'tools/call needs params.name');
    const name = params.name;
    const send = async (refresh: boolean) => {
      const tool = await this.tool(name, refresh);
      const body = { ...message, params: withEnvelope(params, this.capabilities(options.tasks ?? false)) };
      return this.http.post(MODERN_SESSION, body, {
        ...options,
        headers: {
          ...options.headers,
          ...routingHeaders('tools/call', params),
          ...paramHeaders(tool?.paramHeaders ?? [], params.arguments),
        },
      });
    };
    try {
      return await send(false);
    } catch (err) {
      if (modernErrorCodeOf(err) !== JsonRpcCode2026.headerMismatch) throw err;
      return send(true);
    }
  }

  /** tools/call to its end: opens it, reads progress (`onMessage`) and the answer. */
  async callTool(
    message: Record<string, unknown>,
    options: ModernRequestOptions & { onMessage?: (m: JsonRpcNotification) => void } = {},
  ): Promise<ModernCallEnd> {
    const res = await this.openCall(message, options);
    return readCall(res, message.id as JsonRpcId, this.http.maxResponseBytes, options.onMessage);
  }

  /** tasks/get: the task, with its result or error once it ended. */
  async getTask(taskId: string, options: RequestOptions = {}): Promise<TaskView> {
    const result = await this.request('tasks/get', { taskId }, { ...options, tasks: true });
    const task = parseTask(result, 'tasks/get');
    const error = result.error as JsonRpcError['error'] | undefined;
    if (task.status === 'completed' && !isJsonObject(result.result)) {
      throw new McpqError(ErrorCode.protocol_error, `tasks/get: task ${taskId} is completed but carries no result`);
    }
    if (task.status === 'failed' && !(isJsonObject(error) && typeof error.code === 'number')) {
      throw new McpqError(ErrorCode.protocol_error, `tasks/get: task ${taskId} failed but carries no JSON-RPC error`);
    }
    return {
      task,
      result: isJsonObject(result.result) ? result.result : undefined,
      error: task.status === 'failed' ? error : undefined,
      inputRequests: isJsonObject(result.inputRequests) ? result.inputRequests : undefined,
    };
  }

  /** tasks/cancel: an ack only; the task may still end otherwise. */
  async cancelTask(taskId: string, options: RequestOptions = {}): Promise<void> {
    await this.request('tasks/cancel', { taskId }, { ...options, tasks: true });
  }

  /** tasks/update: answers a task's `inputRequests`. */
  async updateTask(taskId: string, inputResponses: Record<string, unknown>, options: RequestOptions = {}): Promise<void> {
    await this.request('tasks/update', { taskId, inputResponses }, { ...options, tasks: true });
  }

  private capabilities(tasks: boolean): Record<string, unknown> {
    return clientCapabilities(tasks, this.options.capabilities);
  }

  private async fetchTools(): Promise<Map<string, ModernTool>> {
    const byName = new Map<string, ModernTool>();
    let cursor: string | undefined;
    let ttlMs = Infinity;
    for (let page = 0; page < 100; page++) {
      const result = await this.request('tools/list', cursor ? { cursor } : undefined);
      if (!Array.isArray(result.tools)) throw new McpqError(ErrorCode.protocol_error, 'tools/list has no tools array');
      // A negative or absent ttlMs means immediately stale; the least ttlMs of the pages holds for the list.
      ttlMs = Math.min(ttlMs, typeof result.ttlMs === 'number' && result.ttlMs > 0 ? result.ttlMs : 0);
      for (const t of result.tools as ToolInfo[]) {
        if (!t || typeof t.name !== 'string') continue;
        try {
          byName.set(t.name, { ...t, paramHeaders: paramHeadersOf(t.name, t.inputSchema) });
        } catch (err) {
          this.options.onRejectedTool?.(t.name, err instanceof Error ? err.message : String(err));
        }
      }
      cursor = typeof result.nextCursor === 'string' && result.nextCursor ? result.nextCursor : undefined;
      if (!cursor) break;
    }
    this.tools = { freshUntil: Date.now() + Math.max(ttlMs === Infinity ? 0 : ttlMs, this.minToolsFreshMs), byName };
    return byName;
  }
}

/**
 * Reads a tools/call answer (JSON or SSE) to its response, passing the
 * call's notifications (progress) to `onMessage` on the way.
 */
export async function readCall(
  res: HttpAnswer,
  id: JsonRpcId,
  /** The client's cap on an answer (`limits.maxResponseBytes`), as on every other read of a server's answer. */
  maxBytes: number,
  onMessage?: (m: JsonRpcNotification) => void,
): Promise<ModernCallEnd> {
  const type = headerOf(res, 'content-type') ?? '';
  if (type.includes('text/event-stream')) {
    let answered = false;
    // The answer ends the stream: the connection is kept for the next request.
    for await (const event of readSse(res, { maxEventChars: maxBytes, reuseAfterExit: () => answered })) {
      const m = parseEventData(event.data);
      if (m?.kind === 'notification') onMessage?.(m.message);
      else if ((m?.kind === 'result' || m?.kind === 'error') && sameId(m.message.id, id)) {
        answered = true;
        return endOf(m);
      }
    }
    // No resumption in 2026-07-28: a stream that ends without the answer loses the call.
    throw new McpqError(ErrorCode.protocol_error, `the tools/call stream ended without a response to request ${String(id)}`);
  }
  return endOf(await readResponse(res, id, maxBytes));
}

function endOf(m: Awaited<ReturnType<typeof readResponse>>): ModernCallEnd {
  if (m.kind === 'error' || m.kind === 'result') return modernCallEnd(m.message);
  throw new McpqError(ErrorCode.protocol_error, `tools/call: expected a response, got a ${m.kind}`);
}

/** How a 2026-07-28 tools/call ended, from its JSON-RPC response (for readers of the stream other than `readCall`). */
export function modernCallEnd(message: JsonRpcResult | JsonRpcError): ModernCallEnd {
  if ('error' in message) return { kind: 'error', error: message.error };
  return parseModernResult(message.result, 'tools/call');
}

/**
 * Reading a tools/call stream for one call: what each SSE event is for that
 * call (its response, its progress, a request from the server, or another
 * request's traffic), and the answer to server requests mcpq cannot serve.
 * Shared by the joiner's followers and the submitter's fast path, so both
 * read a stream the same way.
 */
import type { McpHttpClient } from './http-client.js';
import { parseEventData, sameId, type JsonRpcError, type JsonRpcRequest, type JsonRpcResult } from './jsonrpc.js';

/** A server request on the call's stream: answer ping, refuse what mcpq cannot do (it declares no client capabilities). */
export async function answerServerRequest(
  client: McpHttpClient,
  session: { sessionId?: string | undefined; protocolVersion: string },
  req: JsonRpcRequest,
): Promise<void> {
  try {
    if (req.method === 'ping') await client.respond(session, req.id, {});
    else await client.respond(session, req.id, { error: { code: -32601, message: `mcpq cannot answer ${req.method} for a queued call` } });
  } catch {
    // Best effort: the server times its own request out.
  }
}

export interface ProgressUpdate {
  progress: number;
  total?: number | undefined;
  message?: string | undefined;
}

/** What one SSE event on a followed call's stream is, for that call. */
export type CallStreamEvent =
  | { kind: 'response'; message: JsonRpcResult | JsonRpcError }
  | { kind: 'progress'; update: ProgressUpdate }
  | { kind: 'request'; message: JsonRpcRequest }
  | { kind: 'other' };

/**
 * Classifies an event of the call with JSON-RPC id `requestId` and progress
 * token `token`: a stream may carry other requests' responses and progress,
 * which are `other`.
 */
export function callStreamEvent(data: string, requestId: string | number | undefined, token: string | number | undefined): CallStreamEvent {
  const m = parseEventData(data);
  if (!m) return { kind: 'other' };
  if ((m.kind === 'result' || m.kind === 'error') && sameId(m.message.id, requestId)) return { kind: 'response', message: m.message };
  if (m.kind === 'notification' && m.message.method === 'notifications/progress') {
    const update = progressFor(m.message.params, token);
    return update ? { kind: 'progress', update } : { kind: 'other' };
  }
  return m.kind === 'request' ? { kind: 'request', message: m.message } : { kind: 'other' };
}

/** Reads `notifications/progress` params; undefined when they are not for `token` or not valid. */
function progressFor(params: Record<string, unknown> | undefined, token: string | number | undefined): ProgressUpdate | undefined {
  if (!params || token === undefined || params.progressToken !== token || typeof params.progress !== 'number') return undefined;
  return {
    progress: params.progress,
    total: typeof params.total === 'number' ? params.total : undefined,
    message: typeof params.message === 'string' ? params.message : undefined,
  };
}

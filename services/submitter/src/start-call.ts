/**
 * Sends tools/call for a resume-mode call and leaves as soon as the call can
 * be rejoined: at the first SSE event that carries an id (the priming event
 * on protocol 2025-11-25). Leaving closes only our side of the stream; no
 * notifications/cancelled is sent, so the call runs on upstream.
 */
import {
  ErrorCode,
  McpqError,
  parseEventData,
  readSse,
  readResponse,
  requestReachedServer,
  sameId,
  toMcpqError,
  type JsonRpcError,
  type JsonRpcResult,
  type McpHttpClient,
  type McpSession,
} from '@mcpq/shared';

export type StartOutcome =
  { kind: 'detached'; lastEventId: string } | { kind: 'finished'; message: JsonRpcResult | JsonRpcError; lastEventId?: string | undefined };

/** A failed dispatch, with whether the request may have reached the server. */
export class DispatchError extends Error {
  constructor(
    readonly error: McpqError,
    readonly reached: 'no' | 'maybe',
  ) {
    super(error.message, { cause: error });
    this.name = 'DispatchError';
  }
}

export async function startResumableCall(
  client: McpHttpClient,
  session: McpSession,
  message: Record<string, unknown>,
  requestId: string,
  timeoutMs: number,
): Promise<StartOutcome> {
  const controller = new AbortController();
  const timer = setTimeout(
    () =>
      controller.abort(
        new McpqError(ErrorCode.server_unreachable, `no resumable event within ${timeoutMs} ms of sending tools/call`, { retryable: true }),
      ),
    timeoutMs,
  );
  let res: Response;
  try {
    res = await client.post(session, message, { signal: controller.signal });
  } catch (err) {
    clearTimeout(timer);
    throw new DispatchError(toMcpqError(err, ErrorCode.server_unreachable), requestReachedServer(err));
  }
  try {
    const type = res.headers.get('content-type') ?? '';
    if (!type.includes('text/event-stream') || !res.body) {
      // A JSON answer: the server finished the call before answering.
      const m = await readResponse(res, requestId);
      if (m.kind === 'result' || m.kind === 'error') return { kind: 'finished', message: m.message };
    } else {
      for await (const event of readSse(res.body)) {
        const m = parseEventData(event.data);
        if (m && (m.kind === 'result' || m.kind === 'error') && sameId(m.message.id, requestId)) {
          return { kind: 'finished', message: m.message, lastEventId: event.id };
        }
        // Leaving the loop cancels the body: the detach.
        if (event.id) return { kind: 'detached', lastEventId: event.id };
      }
    }
    throw new McpqError(ErrorCode.protocol_error, 'the tools/call stream ended before any resumable event or response');
  } catch (err) {
    const reason = controller.signal.reason;
    throw new DispatchError(reason instanceof McpqError ? reason : toMcpqError(err, ErrorCode.protocol_error), 'maybe');
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/**
 * Sends a task-augmented tools/call (task mode) and reads its short answer:
 * a CreateTaskResult with the task id, or, from a server that ran the tool
 * at once, the tool's result.
 */
export async function startTaskCall(
  client: McpHttpClient,
  session: McpSession,
  message: Record<string, unknown>,
  requestId: string,
  timeoutMs: number,
): Promise<{ kind: 'task'; task: TaskInfo } | { kind: 'finished'; message: JsonRpcResult | JsonRpcError }> {
  const controller = new AbortController();
  const timer = setTimeout(
    () =>
      controller.abort(
        new McpqError(ErrorCode.server_unreachable, `no answer to the task-augmented tools/call within ${timeoutMs} ms`, {
          retryable: true,
        }),
      ),
    timeoutMs,
  );
  let res: Response;
  try {
    res = await client.post(session, message, { signal: controller.signal });
  } catch (err) {
    clearTimeout(timer);
    throw new DispatchError(toMcpqError(err, ErrorCode.server_unreachable), requestReachedServer(err));
  }
  try {
    const m = await readResponse(res, requestId);
    if (m.kind === 'error') return { kind: 'finished', message: m.message };
    if (m.kind !== 'result') throw new McpqError(ErrorCode.protocol_error, 'tools/call answered with something that is not a response');
    const task = m.message.result.task as Partial<TaskInfo> | undefined;
    if (task && typeof task === 'object' && typeof task.taskId === 'string' && typeof task.status === 'string') {
      return { kind: 'task', task: task as TaskInfo };
    }
    return { kind: 'finished', message: m.message };
  } catch (err) {
    const reason = controller.signal.reason;
    throw new DispatchError(reason instanceof McpqError ? reason : toMcpqError(err, ErrorCode.protocol_error), 'maybe');
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/** The parts of an MCP Task mcpq uses. */
export interface TaskInfo {
  taskId: string;
  status: string;
  statusMessage?: string;
  pollInterval?: number;
}

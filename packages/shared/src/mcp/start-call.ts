/**
 * Starting a call upstream, shared by the submitter (every dispatch) and the
 * joiner (hold mode, and re-dispatching an idempotent call whose session the
 * server lost).
 *
 * Sends tools/call for a resume-mode call and leaves as soon as the call can
 * be rejoined: at the first SSE event that carries an id (the priming event
 * on protocol 2025-11-25), or, with a read window (the submitter's fast
 * path), at the first such event after the window, unless the answer came
 * first. Leaving closes only our side of the stream; no
 * notifications/cancelled is sent, so the call runs on upstream.
 */
import { type CallRequest, ErrorCode, McpqError, toMcpqError } from '@mcpq/contract';
import { answers, readResponse, requestReachedServer, type McpHttpClient, type McpSession } from './http-client.js';
import { parseEventData, type JsonRpcError, type JsonRpcResult } from './jsonrpc.js';
import { readSse } from './sse.js';
import { headerOf, type HttpAnswer } from './http-transport.js';
import { callStreamEvent, type CallStreamEvent } from './call-stream.js';
import type { Outcome } from '../calls/result.js';
import type { RecordPatch } from '../calls/store.js';
import { outcomeOfResponse, toolCallMessage, type ToolCallIds } from './tool-call.js';
import { recordableMs } from '../bounds/delay.js';

export type StartOutcome =
  /** `retryMs`: the server's SSE `retry:` (how long to wait before resuming), when it sent one. */
  | { kind: 'detached'; lastEventId: string; retryMs?: number | undefined }
  | { kind: 'finished'; message: JsonRpcResult | JsonRpcError; lastEventId?: string | undefined };

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

/**
 * How long to keep reading a resume-mode call's POST stream before leaving
 * it, and what to do with the call's events read meanwhile.
 */
export interface ReadWindow {
  /** Read for up to this long after sending tools/call; 0 leaves at the first resumable event. */
  windowMs: number;
  /**
   * Called in order for each progress event and server request of the call
   * read before leaving, with the SSE event id it came in; the next event is
   * read only when it settles. `lastEventId` is the resume token so far.
   * 'leave' ends the window: the stream is left at the next event id.
   */
  onEvent: (
    event: Exclude<CallStreamEvent, { kind: 'response' | 'other' }>,
    eventId: string | undefined,
    lastEventId: string | undefined,
  ) => Promise<'leave' | void>;
  /**
   * Called once, when the server answers tools/call with its event stream:
   * the call is started, and what follows is reading its answer. The
   * submitter gives the server's dispatch budget (servers.<alias>.maxDispatching)
   * back here, so a call that outlasts the window does not hold a dispatch
   * slot of its server for the whole window (which capped the start rate of
   * long calls at maxDispatching per answerWindowMs).
   */
  onStreamOpen?: (() => void) | undefined;
}

export async function startResumableCall(
  client: McpHttpClient,
  session: McpSession,
  message: Record<string, unknown>,
  ids: ToolCallIds,
  timeoutMs: number,
  window?: ReadWindow,
): Promise<StartOutcome> {
  return sendToolCall(
    client,
    session,
    message,
    timeoutMs,
    `no resumable event within ${timeoutMs} ms of sending tools/call`,
    async (res) => {
      const type = headerOf(res, 'content-type') ?? '';
      if (!type.includes('text/event-stream')) {
        // A JSON answer: the server finished the call before answering.
        const m = await readResponse(res, ids.requestId, client.maxResponseBytes);
        if (m.kind === 'result' || m.kind === 'error') return { kind: 'finished', message: m.message };
      } else {
        // The window closes the stream when it ends with a resume token in hand; else the first event id after it leaves.
        const leave = new AbortController();
        let windowOver = !window || window.windowMs <= 0;
        let lastEventId: string | undefined;
        let retryMs: number | undefined;
        const onRetry = (ms: number) => (retryMs = ms);
        const detached = (id: string): StartOutcome => ({
          kind: 'detached',
          lastEventId: id,
          ...(retryMs !== undefined ? { retryMs } : {}),
        });
        window?.onStreamOpen?.();
        const timer = windowOver
          ? undefined
          : setTimeout(() => {
              windowOver = true;
              if (lastEventId) leave.abort();
            }, window!.windowMs);
        try {
          // Answered: the server ends the stream now, and its connection is kept for the next call. Left: the stream is
          // destroyed at once (a detach, never a cancel).
          let answered = false;
          const reuseAfterExit = (): boolean => answered;
          for await (const event of readSse(res, {
            signal: leave.signal,
            onRetry,
            maxEventChars: client.maxResponseBytes,
            reuseAfterExit,
            idsResume: true,
          })) {
            // On the call's own POST stream an error with id null answers it too.
            const m = parseEventData(event.data);
            if (m && answers(m, ids.requestId, true)) {
              answered = true;
              return { kind: 'finished', message: m.message, lastEventId: event.id };
            }
            const e = callStreamEvent(event.data, ids.requestId, ids.progressToken);
            if (!windowOver && (e.kind === 'progress' || e.kind === 'request')) {
              if ((await window!.onEvent(e, event.id, event.id ?? lastEventId)) === 'leave') windowOver = true;
            }
            if (event.id) lastEventId = event.id;
            // Leaving the loop cancels the body: the detach.
            if (lastEventId && windowOver) return detached(lastEventId);
          }
          // The server ended the stream (or the window did): the call goes on, resumable from the last event id.
          if (lastEventId) return detached(lastEventId);
        } finally {
          clearTimeout(timer);
        }
      }
      throw new McpqError(ErrorCode.protocol_error, 'the tools/call stream ended before any resumable event or response');
    },
  );
}

/**
 * POSTs tools/call and reads its answer with `read`, the whole bounded by
 * `timeoutMs`. Failures become DispatchErrors that say whether the request
 * may have reached the server: a failed POST may not have, a failure while
 * reading the answer always may.
 */
async function sendToolCall<T>(
  client: McpHttpClient,
  session: McpSession,
  message: Record<string, unknown>,
  timeoutMs: number,
  timeoutText: string,
  read: (res: HttpAnswer) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new McpqError(ErrorCode.server_unreachable, timeoutText, { retryable: true })),
    timeoutMs,
  );
  let res: HttpAnswer;
  try {
    res = await client.post(session, message, { signal: controller.signal });
  } catch (err) {
    clearTimeout(timer);
    throw new DispatchError(toMcpqError(err, ErrorCode.server_unreachable), requestReachedServer(err));
  }
  try {
    return await read(res);
  } catch (err) {
    const reason = controller.signal.reason;
    throw new DispatchError(reason instanceof McpqError ? reason : toMcpqError(err, ErrorCode.protocol_error), 'maybe');
  } finally {
    clearTimeout(timer);
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
  return sendToolCall(
    client,
    session,
    message,
    timeoutMs,
    `no answer to the task-augmented tools/call within ${timeoutMs} ms`,
    async (res) => {
      const m = await readResponse(res, requestId, client.maxResponseBytes);
      if (m.kind === 'error') return { kind: 'finished', message: m.message };
      if (m.kind !== 'result') throw new McpqError(ErrorCode.protocol_error, 'tools/call answered with something that is not a response');
      const task = m.message.result.task as Partial<TaskInfo> | undefined;
      if (task && typeof task === 'object' && typeof task.taskId === 'string' && typeof task.status === 'string') {
        return { kind: 'task', task: task as TaskInfo };
      }
      return { kind: 'finished', message: m.message };
    },
  );
}

/** The parts of an MCP Task mcpq uses. */
export interface TaskInfo {
  taskId: string;
  status: string;
  statusMessage?: string;
  pollInterval?: number;
}

export interface StartOptions {
  /** Bound on getting to the point where the call can be rejoined. */
  timeoutMs: number;
  /** The `ttl` asked for the task (task mode). */
  taskTtlMs: number;
  traceparent?: string | undefined;
  /** Resume mode: keep reading the POST stream for a while (the submitter's fast path). */
  window?: ReadWindow | undefined;
}

export type Started =
  /** The call runs upstream; `patch` holds what it takes to rejoin it (resume token or task). */
  | { kind: 'started'; patch: RecordPatch }
  /** The server answered with the final result at once. */
  | { kind: 'finished'; outcome: Outcome };

/** Sends tools/call in `mode` and returns how to rejoin it, or its result when it finished at once. Throws DispatchError. */
export async function startCall(
  client: McpHttpClient,
  session: McpSession,
  mode: 'task' | 'resume',
  ids: ToolCallIds,
  callId: string,
  request: CallRequest,
  options: StartOptions,
): Promise<Started> {
  const message = toolCallMessage(ids, callId, request, {
    traceparent: options.traceparent,
    ...(mode === 'task' ? { taskTtlMs: options.taskTtlMs } : {}),
  });
  if (mode === 'task') {
    const started = await startTaskCall(client, session, message, ids.requestId, options.timeoutMs);
    if (started.kind === 'finished') return { kind: 'finished', outcome: outcomeOfResponse(started.message) };
    const t = started.task;
    return {
      kind: 'started',
      patch: {
        taskId: t.taskId,
        taskStatus: t.status,
        taskStatusMessage: t.statusMessage,
        pollIntervalMs: recordableMs(typeof t.pollInterval === 'number' ? t.pollInterval : undefined),
      },
    };
  }
  const started = await startResumableCall(client, session, message, ids, options.timeoutMs, options.window);
  if (started.kind === 'finished') return { kind: 'finished', outcome: outcomeOfResponse(started.message) };
  return { kind: 'started', patch: { lastEventId: started.lastEventId, retryMs: started.retryMs } };
}

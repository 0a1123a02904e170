/**
 * Calls to MCP 2026-07-28 servers (record `protocol: 2026-07-28`), in task
 * or hold mode: that revision has no stream resumption, and closing a
 * tools/call stream cancels the call, so the submitter sends nothing and a
 * joiner sends tools/call and holds its stream until the server answers.
 *
 * - Task mode declares the tasks extension. The server decides per call:
 *   a task answer records the task id, poll interval and ttl and parks the
 *   join; every later delivery (on any joiner) is one `tasks/get`, which
 *   carries the result or error inline once the task ends. An inline answer
 *   is the result, as in hold mode.
 * - Hold mode declares nothing and holds the stream to the end.
 * - A joiner that dies while it holds the stream takes the call with it
 *   (the server cancels it): a later delivery finds the record
 *   `dispatching` and ends the call `outcome_unknown`, or runs an idempotent
 *   one again (`decideRerun`).
 * - `input_required` as the answer ends the call (error `input_required`),
 *   with the server's `inputRequests` on a status; within a task the call
 *   waits, as for 2025-11-25 tasks.
 */
import {
  awaitWithTicks,
  beginAttempt,
  cancelUpstream,
  hopTraceparent,
  ErrorCode,
  isMcpqError,
  McpqError,
  MODERN_PROTOCOL_VERSION,
  MODERN_SESSION,
  modernCallEnd,
  outcomeOfResponse,
  publishProgress,
  readResponse,
  readSse,
  headerOf,
  joinRideOutMs,
  recordRefreshAfterMs,
  requestReachedServer,
  suggestsEraChange,
  recordableMs,
  toMcpqError,
  toolCallMessage,
  TICK,
  whileNatsFails,
  withTicks,
  type Attempt,
  type CallRecord,
  type ModernCallEnd,
  type ModernTask,
  type Versioned,
} from '@mcpq/shared';
import { holderVanished, judgeBrokenCall, rerunAfterLoss } from './attempt.js';
import {
  callStreamEvent,
  clearFailures,
  failed,
  interrupted,
  isModernCall,
  rejoined,
  retryOrFail,
  type Disposition,
  type FollowDeps,
  type TaskToWatch,
} from './common.js';
import { noteTaskStatus, taskCancelledUpstream, taskPollDelay, unknownTaskIsLost } from './task-status.js';

export { isModernCall };

export async function followModern(deps: FollowDeps, found: Versioned<CallRecord>): Promise<Disposition> {
  const rec = found.value;
  if (rec.taskId) return pollTask(deps, found, rec.taskId);
  if (rec.status === 'dispatching') {
    const ended = holderVanished(deps, found, 'MCP 2026-07-28: the server cancels a call whose stream closes');
    if (ended) return ended;
  }
  return sendCall(deps, found);
}

/** Every field of a previous attempt's task, cleared for a new attempt. */
const NO_TASK = {
  taskId: undefined,
  taskStatus: undefined,
  taskStatusMessage: undefined,
  pollIntervalMs: undefined,
  taskTtlMs: undefined,
  lastProgress: undefined,
};

/** Sends tools/call and holds its stream until the server answers (a result, an error, a task, or input_required). */
async function sendCall(deps: FollowDeps, found: Versioned<CallRecord>): Promise<Disposition> {
  const { ctx, watch, request, modern } = deps;
  const rec = found.value;
  if (!request) return failed(found, { code: ErrorCode.internal, message: 'a 2026-07-28 join carries no request' });
  try {
    // The tool list first (openCall needs it for Mcp-Param headers): a failure here never counts as sent.
    await modern.toolList();
  } catch (err) {
    return interrupted(err, watch, found) ?? retryOrFail(found, toMcpqError(err, ErrorCode.server_unreachable));
  }
  let begun: Attempt;
  try {
    begun = await beginAttempt(ctx.store, found, {
      owner: deps.joinerId,
      session: MODERN_SESSION,
      patch: { ...NO_TASK, protocol: MODERN_PROTOCOL_VERSION },
      boundMs: ctx.config.submitter.dispatchTimeoutMs,
    });
  } catch (err) {
    if (isMcpqError(err, ErrorCode.record_conflict)) return { kind: 'lost' };
    throw err;
  }
  const { ids, attempt } = begun;
  let current = begun.current;
  const mode = rec.mode === 'task' ? 'task' : 'hold';
  let reached: 'no' | 'maybe' = 'no';
  try {
    const traceparent = hopTraceparent(deps.span, rec.traceparent);
    // The call may be silent for long (even before its answer's headers): keep its record from expiring
    // meanwhile, ridden out like progress (giving up on NATS here would lose the held call).
    const refreshAfter = recordRefreshAfterMs(ctx.config);
    const keepRecord = async () => {
      current = await ctx.store.refresh(current, refreshAfter, joinRideOutMs(ctx));
    };
    const opened = modern.openCall(toolCallMessage(ids, rec.callId, request, { traceparent }), {
      tasks: mode === 'task',
      signal: watch.signal,
    });
    const res = await awaitWithTicks(opened, refreshAfter, keepRecord);
    reached = 'maybe';
    rejoined(deps, rec.callId, mode, rec.server);
    // Ridden out like progress: giving up on NATS here would lose the held call (the status has a dedupe id).
    const running = () =>
      ctx.events.status(rec.callId, 'running', { mode, attempt, traceparent: rec.traceparent, protocol: MODERN_PROTOCOL_VERSION });
    await whileNatsFails(running, joinRideOutMs(ctx));
    let end: ModernCallEnd | undefined;
    const type = headerOf(res, 'content-type') ?? '';
    if (!type.includes('text/event-stream')) {
      const m = await readResponse(res, ids.requestId, deps.client.maxResponseBytes);
      if (m.kind === 'result' || m.kind === 'error') end = modernCallEnd(m.message);
    } else {
      for await (const event of withTicks(readSse(res, { maxEventChars: deps.client.maxResponseBytes }), refreshAfter)) {
        if (event === TICK) {
          await keepRecord();
          continue;
        }
        const e = callStreamEvent(event.data, ids.requestId, ids.progressToken);
        if (e.kind === 'response') {
          end = modernCallEnd(e.message);
          break;
        }
        if (e.kind === 'progress') current = await publishProgress(ctx, current, e.update, (seq) => `m${attempt}.${seq}`);
      }
    }
    if (!end) throw new McpqError(ErrorCode.protocol_error, 'the tools/call stream ended without a response');
    return await answered(deps, current, end, attempt);
  } catch (err) {
    const interruption = interrupted(err, watch, current);
    if (interruption) return interruption;
    const error = toMcpqError(err, ErrorCode.server_unreachable);
    const sent = reached === 'no' ? requestReachedServer(err) : reached;
    if (sent === 'no' && suggestsEraChange({ protocol: MODERN_PROTOCOL_VERSION }, err)) {
      // Refused before it ran: the server no longer speaks 2026-07-28 (replaced or downgraded).
      return failed(current, {
        code: error.code,
        message: `${error.message}; the server seems to have changed protocol era since the call was dispatched (the call did not run: submit it again)`,
        data: { cause: error.toWire() },
      });
    }
    return judgeBrokenCall(deps, current, error, sent, attempt, ' (MCP 2026-07-28: the server cancels a call whose stream closes)');
  }
}

/** What the server answered tools/call with, as a disposition. */
async function answered(deps: FollowDeps, current: Versioned<CallRecord>, end: ModernCallEnd, attempt: number): Promise<Disposition> {
  const { ctx } = deps;
  const rec = current.value;
  switch (end.kind) {
    case 'complete':
      return { kind: 'outcome', record: current, outcome: { status: 'completed', result: end.result } };
    case 'error':
      return {
        kind: 'outcome',
        record: current,
        outcome: outcomeOfResponse({ jsonrpc: '2.0', id: rec.requestId ?? null, error: end.error }),
      };
    case 'input_required':
      await ctx.events.status(rec.callId, 'running', {
        mode: rec.mode,
        attempt,
        traceparent: rec.traceparent,
        protocol: MODERN_PROTOCOL_VERSION,
        inputRequests: end.inputRequests,
        key: 'input',
        detail:
          'input_required: the MCP server asks for input before it goes on; mcpq cannot answer through the queue yet, so the call ends',
      });
      return failed(current, {
        code: ErrorCode.input_required,
        message: `the MCP server asks for input (${Object.keys(end.inputRequests).join(', ') || 'requestState only'}) before it runs the tool; mcpq cannot answer through the queue yet`,
        data: { inputRequests: Object.keys(end.inputRequests) },
      });
    case 'task':
      return parkTask(deps, current, end.task);
  }
}

/**
 * The server made the call a task: record how to poll it and let go of the
 * join until the first poll. The record is written through a NATS outage
 * (the task runs upstream now); if the call ended meanwhile (a cancel or
 * the deadline), the task is cancelled upstream.
 */
async function parkTask(deps: FollowDeps, current: Versioned<CallRecord>, task: ModernTask): Promise<Disposition> {
  const { ctx } = deps;
  const patch = {
    status: 'dispatched' as const,
    // taskStatus is left for the first poll to note, so a task that starts in input_required is reported.
    taskId: task.taskId,
    pollIntervalMs: recordableMs(task.pollIntervalMs),
    taskTtlMs: recordableMs(task.ttlMs ?? undefined),
  };
  try {
    await ctx.store.updateThroughOutage(current, patch, ctx.config.submitter.dispatchTimeoutMs);
  } catch (err) {
    if (!isMcpqError(err, ErrorCode.record_conflict)) throw err;
    deps.log.info({ taskId: task.taskId }, 'the call ended while its task was being recorded; cancelling the task upstream');
    await cancelUpstream(deps.client, { ...current.value, taskId: task.taskId }, 'mcpq: call ended', deps.log);
    return { kind: 'lost' };
  }
  const delay = taskPollDelay(ctx, task.pollIntervalMs, undefined);
  return { kind: 'park', delayMs: delay, why: `task ${task.status}`, task: modernWatch(task.taskId, undefined, undefined, delay) };
}

/** What the task watcher needs of a 2026-07-28 task (asked through the modern client, no session). */
function modernWatch(taskId: string, status: string | undefined, message: string | undefined, pollMs: number): TaskToWatch {
  return { taskId, era: 'modern', sessionId: undefined, protocolVersion: MODERN_PROTOCOL_VERSION, status, message, pollMs };
}

/** One `tasks/get`: the task's result or error once it ended, else park until the next poll. */
async function pollTask(deps: FollowDeps, start: Versioned<CallRecord>, taskId: string): Promise<Disposition> {
  const { ctx, watch, modern } = deps;
  let current = start;
  const rec = start.value;
  try {
    const view = await modern.getTask(taskId, { signal: watch.signal });
    rejoined(deps, rec.callId, rec.mode ?? 'task', rec.server);
    current = await clearFailures(ctx, current);
    const { status, statusMessage: message } = view.task;
    current = await noteTaskStatus(ctx, current, { status, message, inputRequests: view.inputRequests });
    switch (status) {
      case 'completed':
        return { kind: 'outcome', record: current, outcome: { status: 'completed', result: view.result ?? {} } };
      case 'failed':
        return {
          kind: 'outcome',
          record: current,
          outcome: outcomeOfResponse({
            jsonrpc: '2.0',
            id: rec.requestId ?? null,
            error: view.error ?? { code: -32603, message: 'task failed' },
          }),
        };
      case 'cancelled':
        return { kind: 'outcome', record: current, outcome: taskCancelledUpstream(message) };
      default: {
        const delay = taskPollDelay(ctx, view.task.pollIntervalMs, rec.pollIntervalMs);
        const watched = modernWatch(taskId, current.value.taskStatus, current.value.taskStatusMessage, delay);
        return { kind: 'park', delayMs: delay, why: `task ${status}`, task: watched };
      }
    }
  } catch (err) {
    const interruption = interrupted(err, watch, current);
    if (interruption) return interruption;
    const error = unknownTaskIsLost(toMcpqError(err, ErrorCode.server_unreachable), taskId);
    if (error.code === ErrorCode.session_lost && rerunAfterLoss(deps, current.value, 'yes').verdict === 'rerun') {
      deps.log.warn({ taskId }, 'the MCP server forgot the task; the call is idempotent: sending it again');
      return sendCall(deps, current);
    }
    return retryOrFail(current, error);
  }
}

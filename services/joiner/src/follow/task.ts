/**
 * Task mode: one delivery of the join is one `tasks/get`. A task still
 * working parks the join for the poll interval (nak with a delay), so a
 * waiting call costs this joiner no memory, socket or timer. A new
 * statusMessage is published as a progress event; a terminal task's result
 * comes from `tasks/result`.
 *
 * The first delivery of a task the submitter has just created asks nothing
 * (justCreatedTask): the joiner hands it to its task watcher at once.
 */
import { ErrorCode, MCP_PROTOCOL_VERSION, toMcpqError, type CallRecord, type Outcome, type Versioned } from '@mcpq/shared';
import {
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

/**
 * How old the submitter's record of a new task may be for the first delivery
 * to skip its tasks/get. Older, the join waited (a joiner backlog, or none
 * running): the task has likely moved, and one tasks/get now beats waiting
 * for the watcher's next look.
 */
export const JUST_CREATED_MS = 10_000;

/**
 * A task-mode call whose record says the submitter has just created its task
 * (status `dispatched`, task `working` as CreateTaskResult said, recorded
 * less than JUST_CREATED_MS ago, no failures, no deadline within the lease):
 * what the task watcher needs to watch it, without a tasks/get. A burst of
 * first deliveries then costs no
 * request each (issue 15: 1,000 concurrent tasks/get made the joiner's heap
 * grow for good). Nothing is lost: the watcher compares what it learns with
 * this recorded state, so a task that ended, asks for input or says something
 * new before its first delivery wakes the call at the watcher's next look
 * (within the poll interval plus the server's poll budget), and a task the
 * server does not know makes the watcher's polls fail, which wakes it too.
 * Undefined otherwise: the delivery is followed with a tasks/get, as any other.
 * 2026-07-28 tasks are made by the joiner itself, which watches them at once.
 */
export function justCreatedTask(ctx: FollowDeps['ctx'], rec: CallRecord, now: number): TaskToWatch | undefined {
  if (rec.status !== 'dispatched' || isModernCall(rec) || !rec.taskId || rec.taskStatus !== 'working' || rec.rejoinFailures)
    return undefined;
  const recordedAt = rec.dispatchedAt !== undefined ? Date.parse(rec.dispatchedAt) : Number.NaN;
  if (!(now - recordedAt <= JUST_CREATED_MS)) return undefined; // also an absent or unreadable time
  // A deadline within the lease: a task that ended already must be seen now, not at the watcher's
  // first look, which might come after the deadline (a timeout instead of the result).
  if (rec.deadline !== undefined && rec.deadline - now <= ctx.config.joiner.parkLeaseMs) return undefined;
  return {
    taskId: rec.taskId,
    era: 'classic',
    sessionId: rec.sessionId,
    protocolVersion: rec.protocolVersion ?? MCP_PROTOCOL_VERSION,
    status: rec.taskStatus,
    message: rec.taskStatusMessage,
    pollMs: taskPollDelay(ctx, undefined, rec.pollIntervalMs),
  };
}

export async function followTask(deps: FollowDeps, start: Versioned<CallRecord>): Promise<Disposition> {
  const { ctx, client, watch } = deps;
  let current = start;
  const rec = start.value;
  if (!rec.taskId) {
    return failed(current, { code: ErrorCode.internal, message: 'task-mode call has no task id in its record' });
  }
  const session = { sessionId: rec.sessionId, protocolVersion: rec.protocolVersion ?? MCP_PROTOCOL_VERSION };
  try {
    const task = await client.request(session, 'tasks/get', { taskId: rec.taskId }, { signal: watch.signal });
    rejoined(deps, rec.callId, 'task', rec.server);
    current = await clearFailures(ctx, current);
    const status = typeof task.status === 'string' ? task.status : 'working';
    const message = typeof task.statusMessage === 'string' ? task.statusMessage : undefined;
    current = await noteTaskStatus(ctx, current, { status, message });
    if (status === 'completed' || status === 'failed') {
      return { kind: 'outcome', record: current, outcome: await taskResult(deps, session, rec.taskId) };
    }
    if (status === 'cancelled') return { kind: 'outcome', record: current, outcome: taskCancelledUpstream(message) };
    const delay = taskPollDelay(ctx, typeof task.pollInterval === 'number' ? task.pollInterval : undefined, rec.pollIntervalMs);
    const watched = {
      taskId: rec.taskId,
      era: 'classic' as const,
      ...session,
      status: current.value.taskStatus,
      message: current.value.taskStatusMessage,
      pollMs: delay,
    };
    return { kind: 'park', delayMs: delay, why: `task ${status}`, task: watched };
  } catch (err) {
    const interruption = interrupted(err, watch, current);
    if (interruption) return interruption;
    return retryOrFail(current, unknownTaskIsLost(toMcpqError(err, ErrorCode.server_unreachable), rec.taskId));
  }
}

async function taskResult(
  deps: FollowDeps,
  session: { sessionId?: string | undefined; protocolVersion: string },
  taskId: string,
): Promise<Outcome> {
  try {
    const result = await deps.client.request(session, 'tasks/result', { taskId }, { signal: deps.watch.signal });
    return { status: 'completed', result };
  } catch (err) {
    const error = toMcpqError(err);
    // A JSON-RPC error from tasks/result is the call's outcome; anything else is retried by the caller.
    if (error.code === ErrorCode.upstream_error) return { status: 'failed', error: error.toWire() };
    throw err;
  }
}

/**
 * Task mode: one delivery of the join is one `tasks/get`. A task still
 * working parks the join for the poll interval (nak with a delay), so a
 * waiting call costs this joiner no memory, socket or timer. A new
 * statusMessage is published as a progress event; a terminal task's result
 * comes from `tasks/result`.
 */
import { ErrorCode, MCP_PROTOCOL_VERSION, toMcpqError, type CallRecord, type Outcome, type Versioned } from '@mcpq/shared';
import { clearFailures, failed, interrupted, rejoined, retryOrFail, type Disposition, type FollowDeps } from './common.js';
import { noteTaskStatus, taskCancelledUpstream, taskPollDelay, unknownTaskIsLost } from './task-status.js';

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

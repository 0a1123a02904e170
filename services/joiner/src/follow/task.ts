/**
 * Task mode: one delivery of the join is one `tasks/get`. A task still
 * working parks the join for the poll interval (nak with a delay), so a
 * waiting call costs this joiner no memory, socket or timer. A new
 * statusMessage is published as a progress event; a terminal task's result
 * comes from `tasks/result`.
 */
import { ErrorCode, MCP_PROTOCOL_VERSION, McpqError, toMcpqError, type CallRecord, type Outcome, type Versioned } from '@mcpq/shared';
import { clearFailures, failed, interrupted, rejoined, retryOrFail, type Disposition, type FollowDeps } from './common.js';
import { publishProgress } from '@mcpq/shared';

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
    rejoined(deps, rec.callId, 'task');
    current = await clearFailures(ctx, current);
    const status = typeof task.status === 'string' ? task.status : 'working';
    const message = typeof task.statusMessage === 'string' ? task.statusMessage : undefined;
    if (status !== rec.taskStatus || message !== rec.taskStatusMessage) {
      if (status === 'input_required') {
        await ctx.events.status(rec.callId, 'running', {
          mode: 'task',
          traceparent: rec.traceparent,
          attempt: rec.attempts,
          key: `input${current.value.progressSeq}`,
          detail: `input_required: the MCP server asks for input${message ? ` (${message})` : ''}; mcpq cannot answer elicitation through the queue yet, so the call waits until it is cancelled or its deadline passes`,
        });
        current = await ctx.store.update(current, { taskStatus: status, taskStatusMessage: message });
      } else if (message !== undefined && message !== rec.taskStatusMessage) {
        current = await publishProgress(
          ctx,
          current,
          { progress: current.value.progressSeq + 1, message },
          (seq) => `t${rec.attempts}.${seq}`,
          {
            taskStatus: status,
            taskStatusMessage: message,
          },
        );
      } else {
        current = await ctx.store.update(current, { taskStatus: status, taskStatusMessage: message });
      }
    }
    if (status === 'completed' || status === 'failed') {
      return { kind: 'outcome', record: current, outcome: await taskResult(deps, session, rec.taskId) };
    }
    if (status === 'cancelled') {
      return {
        kind: 'outcome',
        record: current,
        outcome: {
          status: 'cancelled',
          error: { code: ErrorCode.cancelled, message: `the MCP server cancelled the task${message ? `: ${message}` : ''}` },
        },
      };
    }
    const suggested = typeof task.pollInterval === 'number' ? task.pollInterval : (rec.pollIntervalMs ?? ctx.config.joiner.pollMinMs);
    const delay = Math.min(ctx.config.joiner.pollMaxMs, Math.max(ctx.config.joiner.pollMinMs, suggested));
    return { kind: 'park', delayMs: delay, why: `task ${status}` };
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

/** "Task not found" (-32602 on tasks/get) means the server forgot the task: the session is lost for this call. */
function unknownTaskIsLost(error: McpqError, taskId: string): McpqError {
  const data = error.data as { jsonrpcCode?: number } | undefined;
  if (error.code === ErrorCode.upstream_error && data?.jsonrpcCode === -32602) {
    return new McpqError(ErrorCode.session_lost, `the MCP server no longer knows task ${taskId}: ${error.message}`, { data: error.data });
  }
  return error;
}

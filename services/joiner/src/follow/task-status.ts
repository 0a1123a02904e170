/**
 * What both task followers (MCP 2025-11-25 tasks, ./task.ts, and the
 * 2026-07-28 tasks extension, ./modern.ts) do with what a `tasks/get`
 * told: publish a changed statusMessage as progress and input_required as
 * a status, pick the delay before the next poll, and read "task not found".
 */
import { ErrorCode, McpqError, type CallRecord, type Outcome, type ServiceContext, type Versioned } from '@mcpq/shared';
import { clipEventText, publishProgress } from '@mcpq/shared';

export interface TaskSeen {
  status: string;
  message: string | undefined;
  /** 2026-07-28: what the server asks for while the task is `input_required`. */
  inputRequests?: Record<string, unknown> | undefined;
}

/** Records the task's status and message; a change is published (input_required as a status, a new message as progress). */
export async function noteTaskStatus(ctx: ServiceContext, current: Versioned<CallRecord>, seen: TaskSeen): Promise<Versioned<CallRecord>> {
  const rec = current.value;
  const { status, message } = asRecorded(seen);
  if (status === rec.taskStatus && message === rec.taskStatusMessage) return current;
  if (status === 'input_required') {
    await ctx.events.status(rec.callId, 'running', {
      mode: 'task',
      traceparent: rec.traceparent,
      attempt: rec.attempts,
      protocol: rec.protocol,
      inputRequests: seen.inputRequests,
      key: `input${rec.progressSeq}`,
      detail: `input_required: the MCP server asks for input${message ? ` (${message})` : ''}; mcpq cannot answer elicitation through the queue yet, so the call waits until it is cancelled or its deadline passes`,
    });
    return ctx.store.update(current, { taskStatus: status, taskStatusMessage: message });
  }
  if (message !== undefined && message !== rec.taskStatusMessage) {
    return publishProgress(ctx, current, { progress: rec.progressSeq + 1, message }, (seq) => `t${rec.attempts}.${seq}`, {
      taskStatus: status,
      taskStatusMessage: message,
    });
  }
  return ctx.store.update(current, { taskStatus: status, taskStatusMessage: message });
}

/** A task state as the record keeps it (CallStore clips the texts): what is compared with the record. */
function asRecorded(seen: { status: string; message: string | undefined }): { status: string; message: string | undefined } {
  return { status: clipEventText(seen.status), message: seen.message === undefined ? undefined : clipEventText(seen.message) };
}

/** Why a task watcher wakes a parked call (see taskNeedsFollow). */
export type WakeReason = 'ended' | 'input' | 'progress';

/**
 * Whether a task state seen while its call is parked needs the call followed
 * now: the task ended, or noteTaskStatus would publish something (input_required,
 * a new statusMessage). The same rule as noteTaskStatus, so a wake always has
 * work to do and nothing noteTaskStatus publishes waits for the lease.
 */
export function taskNeedsFollow(
  recorded: { status?: string | undefined; message?: string | undefined },
  told: { status: string; message: string | undefined },
): WakeReason | undefined {
  const seen = asRecorded(told);
  if (seen.status === 'completed' || seen.status === 'failed' || seen.status === 'cancelled') return 'ended';
  if (seen.status === 'input_required' && (seen.status !== recorded.status || seen.message !== recorded.message)) return 'input';
  if (seen.message !== undefined && seen.message !== recorded.message) return 'progress';
  return undefined;
}

/** The wait before the next poll: the server's suggestion (else the recorded one), within joiner.pollMinMs..pollMaxMs. */
export function taskPollDelay(ctx: ServiceContext, suggested: number | undefined, recorded: number | undefined): number {
  const { pollMinMs, pollMaxMs } = ctx.config.joiner;
  return Math.min(pollMaxMs, Math.max(pollMinMs, suggested ?? recorded ?? pollMinMs));
}

/** The outcome of a task the server reports `cancelled` (mcpq did not cancel it: mcpq's own cancel ends the call first). */
export function taskCancelledUpstream(message: string | undefined): Outcome {
  return {
    status: 'cancelled',
    error: { code: ErrorCode.cancelled, message: `the MCP server cancelled the task${message ? `: ${message}` : ''}` },
  };
}

/** "Task not found" (-32602 on tasks/get) means the server forgot the task: the session is lost for this call. */
export function unknownTaskIsLost(error: McpqError, taskId: string): McpqError {
  const data = error.data as { jsonrpcCode?: number } | undefined;
  if (error.code === ErrorCode.upstream_error && data?.jsonrpcCode === -32602) {
    return new McpqError(ErrorCode.session_lost, `the MCP server no longer knows task ${taskId}: ${error.message}`, { data: error.data });
  }
  return error;
}

/**
 * Tells an MCP server to stop a call, from whatever process holds its
 * record. 2025-11-25: `tasks/cancel` for a task, `notifications/cancelled`
 * with the JSON-RPC id otherwise (it needs only the session id and the ids
 * kept in the record). 2026-07-28: `tasks/cancel` (tasks extension) for a
 * task; a call without a task is cancelled by closing its stream, which only
 * the joiner holding it can do (the cancel broadcast and the deadline timer
 * make it), so nothing is sent from here. Best effort: the call ends on
 * mcpq's side whether or not the server hears it.
 */
import { type CallRecord, describeError } from '@mcpq/contract';
import type { Logger } from '../log.js';
import { MCP_PROTOCOL_VERSION, type McpHttpClient } from './http-client.js';
import { ModernMcpClient } from './modern-client.js';
import { MODERN_PROTOCOL_VERSION } from './protocol-2026.js';

/**
 * True when the server was told (or, for a 2026-07-28 call without a task,
 * when closing the holder's stream is the cancellation).
 */
export async function cancelUpstream(
  client: McpHttpClient,
  record: Pick<CallRecord, 'mode' | 'sessionId' | 'protocolVersion' | 'requestId' | 'taskId' | 'protocol'>,
  reason: string,
  logger?: Logger,
): Promise<boolean> {
  const session = { sessionId: record.sessionId, protocolVersion: record.protocolVersion ?? MCP_PROTOCOL_VERSION };
  try {
    if (record.protocol === MODERN_PROTOCOL_VERSION) {
      if (!record.taskId) return true;
      await new ModernMcpClient(client).cancelTask(record.taskId);
      return true;
    }
    if (record.mode === 'task' && record.taskId) {
      await client.request(session, 'tasks/cancel', { taskId: record.taskId });
      return true;
    }
    if (record.requestId !== undefined) {
      await client.notify(session, 'notifications/cancelled', { requestId: record.requestId, reason });
      return true;
    }
  } catch (err) {
    logger?.warn({ err: describeError(err) }, 'could not cancel the call upstream');
  }
  return false;
}

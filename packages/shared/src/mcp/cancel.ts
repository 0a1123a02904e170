/**
 * Tells an MCP server to stop a call, from whatever process holds its
 * record: `tasks/cancel` for a task, `notifications/cancelled` with the
 * JSON-RPC id otherwise. Any process can do this: it needs only the session
 * id and the ids kept in the call record. Best effort: the call ends on
 * mcpq's side whether or not the server hears it.
 */
import { describeError } from '../errors.js';
import type { CallRecord } from '../calls/record.js';
import type { Logger } from '../log.js';
import { MCP_PROTOCOL_VERSION, type McpHttpClient } from './http-client.js';

export async function cancelUpstream(
  client: McpHttpClient,
  record: Pick<CallRecord, 'mode' | 'sessionId' | 'protocolVersion' | 'requestId' | 'taskId'>,
  reason: string,
  logger?: Logger,
): Promise<boolean> {
  const session = { sessionId: record.sessionId, protocolVersion: record.protocolVersion ?? MCP_PROTOCOL_VERSION };
  try {
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

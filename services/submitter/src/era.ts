/**
 * What the submitter learns of a server before it dispatches a call, in the
 * server's protocol era (`server/discover`, probed once per server and
 * cached by ServerClients):
 *
 * - 2025-11-25: the process's session, the tool from its tools/list, and the
 *   mode from the session's capabilities (`chooseMode`). The submitter sends
 *   tools/call itself (resume, task) or leaves it to a joiner (hold).
 * - 2026-07-28: the tool from the stateless tools/list, and the mode from
 *   `server/discover` (`chooseModernMode`: task with the tasks extension,
 *   else hold). The submitter sends nothing: closing a tools/call stream
 *   cancels the call there, so a joiner sends it and follows it.
 */
import {
  chooseMode,
  chooseModernMode,
  DispatchError,
  McpqError,
  MODERN_PROTOCOL_VERSION,
  suggestsEraChange,
  type Era,
  type InitializedSession,
  type Mode,
  type ModeSetting,
  type ProtocolEra,
  type ServerClients,
  type ToolInfo,
} from '@mcpq/shared';

export interface CallPlan {
  protocol: ProtocolEra;
  /** Undefined when the server lists no such tool. */
  tool: ToolInfo | undefined;
  /** The rejoin mode of the call (throws mode_unsupported). */
  mode: (tool: ToolInfo) => Mode;
  /** 2025-11-25 only: the session the submitter sends tools/call in. */
  session?: InitializedSession | undefined;
}

/** Plans a call to `alias` in the server's era. `era` is told the era as soon as it is known (for `afterEraChange`). */
export async function planCall(
  servers: ServerClients,
  alias: string,
  setting: ModeSetting,
  toolName: string,
  known: (era: Era) => void,
): Promise<CallPlan> {
  const era = await servers.era(alias);
  known(era);
  if (era.protocol === MODERN_PROTOCOL_VERSION) {
    // Loaded before anything is recorded as sent: a failure here never counts as "tools/call may have reached the server".
    const tool = await servers.modern(alias).tool(toolName);
    return { protocol: era.protocol, tool, mode: () => chooseModernMode(setting, era, alias) };
  }
  const sessions = servers.session(alias);
  const session = await sessions.session();
  const tool = await sessions.tool(toolName);
  return { protocol: session.protocol, tool, session, mode: (t) => chooseMode(setting, session, t, alias) };
}

/**
 * A dispatch failed. When the failure suggests the server changed era (it
 * was replaced or upgraded: `suggestsEraChange`), forget its era so the next
 * delivery probes it again, and make a failure that did not reach the server
 * retryable, so the call is dispatched again in the new era (bounded by
 * submitter.maxDeliver) instead of failing.
 */
export function afterEraChange(servers: ServerClients, alias: string, era: Era | undefined, err: unknown): unknown {
  if (!era || !suggestsEraChange(era, err instanceof DispatchError ? err.error : err)) return err;
  servers.forgetEra(alias);
  const reached = err instanceof DispatchError ? err.reached : 'no';
  const error = err instanceof DispatchError ? err.error : (err as McpqError);
  if (reached !== 'no' || error.retryable) return err;
  const retry = new McpqError(error.code, `${error.message} (the server may have changed protocol era; probing it again)`, {
    data: error.data,
    retryable: true,
    cause: error,
  });
  return err instanceof DispatchError ? new DispatchError(retry, reached) : retry;
}

/**
 * What a server offers, asked in its protocol era: `server/discover` first,
 * then initialize + tools/list (2025-11-25, the session ended afterwards) or
 * the stateless tools/list (2026-07-28); with the rejoin mode each tool gets
 * under the configured `mode`. The one way the server catalog entry is made
 * (the gateway's tool directory) and `mcpq servers` reads a server.
 */
import { describeError, type Mode, type ServerConfig } from '@mcpq/contract';
import { probeEra } from '../mcp/era.js';
import type { McpHttpClient } from '../mcp/http-client.js';
import { ModernMcpClient } from '../mcp/modern-client.js';
import { chooseMode, chooseModernMode, serverSupportsTasks } from '../mcp/modes.js';
import { MODERN_PROTOCOL_VERSION } from '../mcp/protocol-2026.js';
import { fetchToolList } from '../mcp/server-session.js';
import type { CatalogTool, ServerCatalogEntry } from './catalog.js';

export interface ServerDescription {
  /** The server catalog entry: protocol, serverInfo, tools as listed, the mode of each tool that has one. */
  entry: ServerCatalogEntry;
  /** The server sends SSE event ids, so streams can be resumed (never in 2026-07-28, which has no resumption). */
  resumable: boolean;
  /** The server offers tasks: `capabilities.tasks.requests.tools.call` (2025-11-25) or the tasks extension (2026-07-28). */
  tasks: boolean;
  /** Why each tool missing from `entry.modes` gets no mode: its `mode_unsupported` error, described. */
  modeErrors: Record<string, string>;
}

export interface DescribeOptions {
  /** Told about each 2026-07-28 tool left out because its `x-mcp-header` marks break the spec (it could not be called). */
  onRejectedTool?: (tool: string, reason: string) => void;
}

/**
 * Asks the server at `client` what it offers, in its era (probed now, not
 * cached: the description is what the server is today). Throws what the
 * server's answers throw (server_unreachable, protocol_error, ...).
 */
export async function describeServer(
  alias: string,
  server: Pick<ServerConfig, 'mode'>,
  client: McpHttpClient,
  options: DescribeOptions = {},
): Promise<ServerDescription> {
  const era = await probeEra(client);
  if (era.protocol === MODERN_PROTOCOL_VERSION) {
    const modern = new ModernMcpClient(client, options.onRejectedTool ? { onRejectedTool: options.onRejectedTool } : {});
    // The catalog keeps each tool as the server listed it, without what mcpq read from it.
    const tools = [...(await modern.toolList()).values()].map(({ paramHeaders: _read, ...tool }) => tool as CatalogTool);
    const modes = modesOf(tools, () => chooseModernMode(server.mode, era, alias));
    return {
      entry: entryOf(alias, era.protocol, era.discover?.serverInfo, tools, modes.modes),
      resumable: false,
      tasks: era.discover?.tasks === true,
      modeErrors: modes.errors,
    };
  }
  const session = await client.initialize();
  try {
    const listed = [...(await fetchToolList(client, session, alias)).values()];
    const modes = modesOf(listed, (tool) => chooseMode(server.mode, session, tool, alias));
    return {
      entry: entryOf(alias, session.protocolVersion, session.serverInfo, listed as CatalogTool[], modes.modes),
      resumable: session.resumable,
      tasks: serverSupportsTasks(session),
      modeErrors: modes.errors,
    };
  } finally {
    await client.terminate(session);
  }
}

function entryOf(
  alias: string,
  protocol: string,
  serverInfo: ServerCatalogEntry['serverInfo'],
  tools: CatalogTool[],
  modes: Record<string, Mode>,
): ServerCatalogEntry {
  return { alias, protocol, ...(serverInfo ? { serverInfo } : {}), tools, modes, fetchedAt: new Date().toISOString() };
}

/**
 * The mode each tool gets. A tool whose mode cannot be chosen (a forced mode
 * the server or tool cannot honour) is left out of `modes`: no call to it can
 * run with this config (the submitter refuses it with mode_unsupported), so it
 * has no mode to record; `errors` says why.
 */
function modesOf<T extends { name: string }>(tools: T[], choose: (tool: T) => Mode) {
  const modes: Record<string, Mode> = {};
  const errors: Record<string, string> = {};
  for (const tool of tools) {
    try {
      modes[tool.name] = choose(tool);
    } catch (err) {
      errors[tool.name] = describeError(err);
    }
  }
  return { modes, errors };
}

/**
 * Picks the rejoin mode of a call from the server's capabilities, the tool's
 * `execution.taskSupport` and the configured mode (DESIGN "Rejoin modes").
 * A forced mode that the server or tool cannot honour is a clear
 * `mode_unsupported` error at dispatch, never a hang later.
 */
import { ErrorCode, McpqError, type Mode, type ModeSetting } from '@mcpq/contract';
import type { Era } from './era.js';
import type { InitializedSession } from './http-client.js';
import type { ToolInfo } from './server-session.js';

/** The server advertises task-augmented tools/call (`capabilities.tasks.requests.tools.call`). */
export function serverSupportsTasks(session: Pick<InitializedSession, 'capabilities'>): boolean {
  const tasks = session.capabilities.tasks as { requests?: { tools?: { call?: unknown } } } | undefined;
  return tasks?.requests?.tools?.call !== undefined;
}

export function toolTaskSupport(tool: ToolInfo): 'forbidden' | 'optional' | 'required' {
  const support = tool.execution?.taskSupport;
  return support === 'optional' || support === 'required' ? support : 'forbidden';
}

export function chooseMode(setting: ModeSetting, session: InitializedSession, tool: ToolInfo, server: string): Mode {
  const tasks = serverSupportsTasks(session);
  const support = toolTaskSupport(tool);
  const fail = (why: string) =>
    new McpqError(ErrorCode.mode_unsupported, `server ${server}, tool ${tool.name}: ${why}`, {
      data: { configured: setting, serverTasks: tasks, taskSupport: support, resumable: session.resumable },
    });
  if (support === 'required' && setting !== 'auto' && setting !== 'task') {
    throw fail(`the tool requires a task (execution.taskSupport: required) but mode is forced to ${setting}`);
  }
  switch (setting) {
    case 'task':
      if (!tasks) throw fail('mode is forced to task but the server does not advertise tasks.requests.tools.call');
      if (support === 'forbidden') throw fail('mode is forced to task but the tool does not allow tasks (execution.taskSupport)');
      return 'task';
    case 'resume':
      if (!session.resumable) throw fail('mode is forced to resume but the server sends no SSE event ids (no event store)');
      return 'resume';
    case 'hold':
      return 'hold';
    case 'auto':
      if (tasks && support !== 'forbidden') return 'task';
      if (support === 'required') throw fail('the tool requires a task but the server does not advertise tasks.requests.tools.call');
      return session.resumable ? 'resume' : 'hold';
  }
}

/**
 * The rejoin mode of a call to a 2026-07-28 server. There is no stream
 * resumption in that revision (closing a stream cancels the call), so
 * `resume` is refused; `task` needs the tasks extension in the server's
 * `server/discover` (the server still decides per call whether to answer
 * with a task); `auto` picks `task` when offered, else `hold`.
 */
export function chooseModernMode(setting: ModeSetting, era: Extract<Era, { protocol: '2026-07-28' }>, server: string): Mode {
  const tasks = era.discover?.tasks === true;
  const fail = (why: string) =>
    new McpqError(ErrorCode.mode_unsupported, `server ${server} (MCP 2026-07-28): ${why}`, {
      data: { configured: setting, protocol: era.protocol, serverTasks: tasks },
    });
  switch (setting) {
    case 'resume':
      throw fail('mode is forced to resume but MCP 2026-07-28 has no stream resumption');
    case 'task':
      if (!tasks) throw fail('mode is forced to task but server/discover does not offer the io.modelcontextprotocol/tasks extension');
      return 'task';
    case 'hold':
      return 'hold';
    case 'auto':
      return tasks ? 'task' : 'hold';
  }
}

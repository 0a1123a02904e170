/**
 * Picks the rejoin mode of a call from the server's capabilities, the tool's
 * `execution.taskSupport` and the configured mode (DESIGN "Rejoin modes").
 * A forced mode that the server or tool cannot honour is a clear
 * `mode_unsupported` error at dispatch, never a hang later.
 */
import type { ModeSetting } from '../config/schema.js';
import { ErrorCode, McpqError } from '../errors.js';
import type { Mode } from '../wire/schemas.js';
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

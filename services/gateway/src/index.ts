/** @mcpq/gateway: an MCP server in front of mcpq (tools of every configured server, durable calls, tasks). */
export { Gateway, MCP_PATH, type GatewayOptions, type GatewayState } from './gateway.js';
export { startGateway } from './start.js';
export { CallTasks, TASK_POLL_INTERVAL_MS, type CallTask, type TaskState } from './call-tasks.js';
export { ToolDirectory, CATALOG_TTL_MS, TOOL_NAME_SEPARATOR } from './tool-directory.js';

/** @mcpq/console: the web console (`mcpq ui`). */
export { startConsole, type ConsoleOptions, type RunningConsole } from './console.js';
export { runUi } from './ui-command.js';
export { redact } from './arguments.js';
export type { CallView, ProgressView } from './call-view.js';

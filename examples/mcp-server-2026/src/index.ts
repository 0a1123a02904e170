export { startServer2026, type Server2026, type Server2026Options } from './server.js';
export type { Server2026Stats } from './stats.js';
export { TASKS_EXTENSION } from './tasks.js';

#!/usr/bin/env node
/**
 * Runs the example MCP server. Flags: --port N (default 3000; 0 = any),
 * --host H, --no-event-store (not resumable), --retry-ms N, --close-streams,
 * --tasks (advertise MCP Tasks, tasks.list included, and add the task tools), --no-tasks-list,
 * --task-poll-ms N.
 * Prints one JSON line `{"event":"listening","url":...}` when ready.
 */
import { parseArgs } from 'node:util';
import { startExampleServer } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '3000' },
    host: { type: 'string', default: '127.0.0.1' },
    'no-event-store': { type: 'boolean', default: false },
    'retry-ms': { type: 'string' },
    'close-streams': { type: 'boolean', default: false },
    tasks: { type: 'boolean', default: false },
    'no-tasks-list': { type: 'boolean', default: false },
    'task-poll-ms': { type: 'string' },
  },
});

const server = await startExampleServer({
  port: Number(values.port),
  host: values.host,
  eventStore: !values['no-event-store'],
  closeStreams: values['close-streams'],
  tasks: values.tasks,
  tasksList: !values['no-tasks-list'],
  ...(values['task-poll-ms'] !== undefined ? { taskPollMs: Number(values['task-poll-ms']) } : {}),
  ...(values['retry-ms'] !== undefined ? { retryIntervalMs: Number(values['retry-ms']) } : {}),
});
process.stdout.write(`${JSON.stringify({ event: 'listening', url: server.url, pid: process.pid })}\n`);

const stop = () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

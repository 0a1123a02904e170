/**
 * `mcpq ui`: runs the console until SIGTERM/SIGINT. Reads NATS_URL,
 * MCPQ_CONFIG, MCPQ_PREFIX and MCPQ_UI_PORT like the services; `--port`
 * and `--host` override the config (usage: `mcpq ui --help`).
 */
import { parseArgs } from 'node:util';
import { createLogger, handleSignals, loadConfig } from '@mcpq/shared';
import { startConsole } from './console.js';

/** Starts the console and resolves only when a signal stopped it (the process then exits). */
export async function runUi(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { port: { type: 'string' }, host: { type: 'string' } } });
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535))
    throw new Error('--port must be a port number (0-65535)');
  const config = loadConfig();
  const logger = createLogger('console', { level: config.log.level });
  const running = await startConsole({
    config,
    logger,
    ...(port !== undefined ? { port } : {}),
    ...(values.host ? { host: values.host } : {}),
  });
  process.stdout.write(`mcpq console: ${running.url}\n`);
  handleSignals({ logger, graceMs: 5_000, stop: () => running.close() });
  return new Promise<number>(() => undefined);
}

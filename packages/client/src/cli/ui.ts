/**
 * `mcpq ui`: the web console. It lives in packages/console (which builds on
 * this package), so the command loads it from the checkout at run time
 * instead of depending on it: no package cycle.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError } from './args.js';
import type { Command } from './commands.js';

/** packages/console/dist/index.js, next to this package in a built checkout. */
export const CONSOLE_ENTRY = fileURLToPath(new URL('../../../console/dist/index.js', import.meta.url));

export const ui: Command = {
  summary: 'serve the web console: live calls, timelines, cancel, dead letters, servers and queues',
  usage: `mcpq ui [--port N] [--host ADDRESS]

  --port N          port of the console (default ui.port: 4280, or MCPQ_UI_PORT; 0 picks a free one)
  --host ADDRESS    address to listen on (default ui.host: 127.0.0.1; without gateway.tokens, loopback only)

  Serves the console at http://<host>:<port>/ until Ctrl-C (docs/console.md). Reads NATS_URL and
  MCPQ_CONFIG like the services; with gateway.tokens a browser logs in with one of the tokens.`,
  async run(argv) {
    if (!existsSync(CONSOLE_ENTRY))
      throw new UsageError(`mcpq ui runs from a built checkout of mcpq: ${CONSOLE_ENTRY} not found (run pnpm build)`);
    const mod = (await import(pathToFileURL(CONSOLE_ENTRY).href)) as { runUi(argv: string[]): Promise<number> };
    return mod.runUi(argv);
  },
};

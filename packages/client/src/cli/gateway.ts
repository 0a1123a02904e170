/**
 * `mcpq gateway`: runs the gateway service (services/gateway) in the
 * foreground, so an MCP host can call every configured server's tools
 * through mcpq at one URL. The service is its own process (it needs the
 * MCP SDK, which the client package does not carry); signals are passed on
 * and its exit code is this command's.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from './args.js';
import type { Command } from './commands.js';
import { entry } from './dev.js';

export const gateway: Command = {
  summary: 'run the MCP gateway: every configured tool, called through mcpq, at http://<host>:<port>/mcp',
  usage: `mcpq gateway [--port N]

  --port N   port of the MCP endpoint (default gateway.port, 4281, or MCPQ_GATEWAY_PORT)

  Reads NATS_URL and MCPQ_CONFIG (servers, gateway.tokens, gateway.host) like the services;
  MCPQ_HTTP_PORT serves /healthz, /readyz and /metrics. Ctrl-C stops it.`,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { port: { type: 'string' }, help: { type: 'boolean', default: false } } });
    const env = { ...process.env };
    if (values.port !== undefined) {
      const port = Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be a port number (0-65535)');
      env.MCPQ_GATEWAY_PORT = String(port);
    }
    if (!existsSync(entry.gateway)) throw new UsageError(`the gateway is not built: ${entry.gateway} not found (run pnpm build)`);
    const child = spawn(process.execPath, [entry.gateway], { env, stdio: 'inherit' });
    // Ctrl-C at a terminal reaches the whole process group, the gateway included: passing SIGINT on
    // as well would be a second signal (an immediate exit). SIGTERM is usually sent to this pid only.
    process.on('SIGINT', () => undefined);
    process.on('SIGTERM', () => child.kill('SIGTERM'));
    return new Promise<number>((resolve) => {
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
  },
};

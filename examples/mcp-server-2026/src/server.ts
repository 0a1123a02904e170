/**
 * Test MCP servers for protocol revision 2026-07-28, built with the official
 * SDK v2 (`@modelcontextprotocol/server`, `createMcpHandler`): stateless
 * Streamable HTTP, one instance per request. `era: 'modern'` serves only
 * 2026-07-28 (`legacy: 'reject'`); `era: 'dual'` also serves 2025-11-25
 * clients statelessly. The SDK does not implement the tasks extension
 * (`io.modelcontextprotocol/tasks`), so this server offers it with its own
 * handlers for `tasks/get`, `tasks/update` and `tasks/cancel`.
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createMcpHandler, McpServer, type McpHttpHandler } from '@modelcontextprotocol/server';
import { Server2026Log, type Server2026Stats } from './stats.js';
import { registerTools } from './tools.js';
import { TaskBoard, TASKS_EXTENSION } from './tasks.js';

export interface Server2026Options {
  /** `modern`: 2026-07-28 only; `dual`: 2026-07-28 and, statelessly, 2025-11-25. */
  era: 'modern' | 'dual';
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** How often a task asks to be polled, in ms (default 50). */
  pollIntervalMs?: number;
}

export interface Server2026 {
  url: string;
  port: number;
  era: 'modern' | 'dual';
  stats(): Server2026Stats;
  close(): Promise<void>;
}

export async function startServer2026(options: Server2026Options): Promise<Server2026> {
  const log = new Server2026Log();
  const tasks = new TaskBoard(log, options.pollIntervalMs ?? 50);
  const handler = createMcpHandler(
    () => {
      const server = new McpServer(
        { name: `mcpq-example-2026-${options.era}`, version: '0.1.0' },
        { capabilities: { tools: {}, extensions: { [TASKS_EXTENSION]: {} } } as never },
      );
      registerTools(server, log, tasks);
      tasks.registerHandlers(server);
      return server;
    },
    { legacy: options.era === 'modern' ? 'reject' : 'stateless' },
  );
  const http = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(log.snapshot()));
      return;
    }
    serve(handler, req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => http.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    era: options.era,
    stats: () => log.snapshot(),
    close: () => close(http, handler, tasks),
  };
}

/**
 * Bridges node:http to the handler's web-standard `fetch`. The request's
 * signal fires when the client goes away, which the SDK turns into the
 * cancellation of that request (2026-07-28: closing the stream cancels).
 */
async function serve(handler: McpHttpHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(name, value);
    else if (Array.isArray(value)) for (const v of value) headers.append(name, v);
  }
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD' && chunks.length > 0;
  const request = new Request(`http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`, {
    method: req.method ?? 'GET',
    headers,
    signal: abort.signal,
    ...(hasBody ? { body: Buffer.concat(chunks) } : {}),
  });
  const response = await handler.fetch(request);
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (!response.body) {
    res.end();
    return;
  }
  const body = Readable.fromWeb(response.body as never);
  res.on('close', () => body.destroy());
  body.on('error', () => res.destroy());
  body.pipe(res);
}

async function close(http: HttpServer, handler: McpHttpHandler, tasks: TaskBoard): Promise<void> {
  tasks.close();
  await handler.close();
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
}

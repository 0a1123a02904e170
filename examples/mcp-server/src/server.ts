/**
 * The example MCP server: the official SDK's McpServer over Streamable HTTP
 * (stateful sessions), optionally resumable (an event store, so it sends
 * priming events and replays on GET with Last-Event-ID). `/stats` reports
 * what ran; `/healthz` answers 200.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js';
import { StreamEventStore, type EventStoreFault } from './event-store.js';
import { ExecutionLog, type ServerStats } from './stats.js';
import { registerTaskTools } from './task-tools.js';
import { Gates, registerBigTool, registerErrorTool, registerGatedTool, registerTools } from './tools.js';

export interface ExampleServerOptions {
  port?: number;
  host?: string;
  /** Keep an event store (resumable streams, priming events). Default true. */
  eventStore?: boolean;
  /** Make the event store misbehave like some found in the wild (see EventStoreFault). */
  eventStoreFault?: EventStoreFault;
  /** With eventStoreFault `replay-errors`: how many resumes fail. */
  replayErrors?: number;
  /** `retry:` interval sent with priming events (SEP-1699). */
  retryIntervalMs?: number;
  /** Close each tool call's stream right after it starts, so clients must resume (SEP-1699). */
  closeStreams?: boolean;
  /** Advertise MCP Tasks (an in-memory task store) and register the task tools. */
  tasks?: boolean;
  /** With tasks: also advertise `tasks.list` (the SDK answers it from the task store, 10 tasks a page). Default true. */
  tasksList?: boolean;
  /** pollInterval suggested for tasks. */
  taskPollMs?: number;
  /** Answer 401 to any /mcp request whose Authorization header is not exactly this. */
  requireAuthorization?: string;
  /** Serve HTTPS with this key and certificate (PEM); the url is then https://. */
  tls?: { key: string; cert: string };
}

export interface ExampleServer {
  url: string;
  port: number;
  stats(): ServerStats;
  /** Opens a gate of the `gated` tool: the calls waiting on it answer now, later ones at once. */
  openGate(name: string): void;
  close(): Promise<void>;
}

export async function startExampleServer(options: ExampleServerOptions = {}): Promise<ExampleServer> {
  const log = new ExecutionLog();
  const store =
    options.eventStore === false
      ? undefined
      : new StreamEventStore({
          fault: options.eventStoreFault,
          ...(options.replayErrors !== undefined ? { replayErrors: options.replayErrors } : {}),
        });
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const taskStore = options.tasks ? new InMemoryTaskStore() : undefined;
  const gates = new Gates();

  const newSession = async (): Promise<StreamableHTTPServerTransport> => {
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      ...(store ? { eventStore: store } : {}),
      ...(options.retryIntervalMs !== undefined ? { retryInterval: options.retryIntervalMs } : {}),
      onsessioninitialized: (id) => {
        sessions.set(id, transport);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    const server = new McpServer(
      { name: 'mcpq-example', version: '0.1.0' },
      taskStore
        ? {
            capabilities: {
              tools: {},
              tasks: { requests: { tools: { call: {} } }, cancel: {}, ...(options.tasksList === false ? {} : { list: {} }) },
            },
            taskStore,
          }
        : { capabilities: { tools: {} } },
    );
    registerTools(server, log, { closeStreams: options.closeStreams ?? false });
    registerErrorTool(server, log);
    registerBigTool(server, log);
    registerGatedTool(server, log, gates);
    if (taskStore) registerTaskTools(server, log, options.taskPollMs !== undefined ? { pollIntervalMs: options.taskPollMs } : {});
    await server.connect(transport);
    return transport;
  };

  const handleMcp = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const sessionId = req.headers['mcp-session-id'];
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    if (typeof sessionId === 'string') {
      const transport = sessions.get(sessionId);
      if (!transport) return sendJson(res, 404, { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
      return transport.handleRequest(req, res, body);
    }
    if (req.method === 'POST' && isInitializeRequest(body)) {
      const transport = await newSession();
      return transport.handleRequest(req, res, body);
    }
    sendJson(res, 400, { jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: no valid session id' }, id: null });
  };

  const listener: RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/mcp' && options.requireAuthorization !== undefined && req.headers.authorization !== options.requireAuthorization) {
      sendJson(res, 401, { error: 'unauthorized' });
    } else if (path === '/mcp') {
      handleMcp(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { jsonrpc: '2.0', error: { code: -32603, message: String(err) }, id: null });
        else res.end();
      });
    } else if (path === '/stats') {
      sendJson(res, 200, log.snapshot(sessions.size));
    } else if (path === '/healthz') {
      sendJson(res, 200, { ok: true });
    } else {
      sendJson(res, 404, { error: 'not found' });
    }
  };
  const http: Server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, listener) : createServer(listener);
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${port}/mcp`,
    port,
    stats: () => log.snapshot(sessions.size),
    openGate: (name) => gates.open(name),
    close: async () => {
      for (const t of sessions.values()) await t.close().catch(() => undefined);
      taskStore?.cleanup();
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

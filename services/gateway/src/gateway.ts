/**
 * The gateway's HTTP face: `POST /mcp`, Streamable HTTP without sessions
 * (every request gets its own SDK server), so any replica serves any
 * request and a host that comes back after a gateway restart carries on
 * with no session to lose. A 2026-07-28 request goes to the SDK 2.x handler
 * (modern-server.ts), anything else to the SDK 1.x server
 * (legacy-server.ts); the SDK's `isLegacyRequest` tells them apart. Bearer
 * tokens when configured (401 otherwise); without tokens, loopback only.
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isLegacyRequest, type McpHttpHandler } from '@modelcontextprotocol/server';
import { BearerTokens, describeError, ErrorCode, isLoopbackHost, type Logger, type Principal } from '@mcpq/shared';
import { createLegacyServer } from './legacy-server.js';
import { authInfoFor, createModernHandler } from './modern-server.js';
import type { GatewayParts } from './tool-calls.js';

export const MCP_PATH = '/mcp';

/** Room for a tools/call envelope around the largest accepted arguments. */
const ENVELOPE_BYTES = 64 * 1024;

export type GatewayState = 'starting' | 'running' | 'draining' | 'stopped';

export interface GatewayOptions {
  port: number;
  host: string;
  tokens: BearerTokens;
  /** Largest request body accepted (the config's limits.maxArgumentsBytes plus room for the envelope). */
  maxArgumentsBytes: number;
  logger: Logger;
}

export class Gateway {
  state: GatewayState = 'starting';
  private readonly http: HttpServer;
  private readonly modern: McpHttpHandler;
  private open = 0;
  private boundPort = 0;

  constructor(
    private readonly parts: GatewayParts,
    private readonly options: GatewayOptions,
  ) {
    this.http = createServer((req, res) => void this.handle(req, res));
    this.modern = createModernHandler(parts, options.maxArgumentsBytes + ENVELOPE_BYTES);
  }

  /** Requests being answered now (a synchronous call counts until its result). */
  get inFlight(): number {
    return this.open;
  }

  get url(): string {
    const host = this.listenHost.includes(':') ? `[${this.listenHost}]` : this.listenHost;
    return `http://${host}:${this.boundPort}${MCP_PATH}`;
  }

  /** Without tokens nobody but this machine may reach the gateway, whatever gateway.host says. */
  private get listenHost(): string {
    return this.options.tokens.required || isLoopbackHost(this.options.host) ? this.options.host : '127.0.0.1';
  }

  async start(): Promise<string> {
    const { logger, tokens, host } = this.options;
    if (!tokens.required) {
      logger.warn(
        { host: this.listenHost, configuredHost: host },
        `no gateway.tokens configured: the gateway needs no token and listens on loopback only (${this.listenHost})`,
      );
    }
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.options.port, this.listenHost, () => resolve());
    });
    this.boundPort = (this.http.address() as AddressInfo).port;
    this.state = 'running';
    logger.info({ url: this.url, auth: tokens.required ? 'bearer' : 'none' }, `gateway listening on ${this.url}`);
    return this.url;
  }

  /** Stops taking requests; open ones get `graceMs` to end, then their connections are closed (their calls go on). */
  async stop(graceMs: number): Promise<void> {
    this.state = 'draining';
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    const deadline = Date.now() + graceMs;
    while (this.open > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    this.http.closeAllConnections();
    await closed;
    await this.modern.close();
    this.state = 'stopped';
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== MCP_PATH) return sendError(res, 404, -32601, `not found: the MCP endpoint is ${MCP_PATH}`);
    const principal = this.options.tokens.authenticate(req.headers.authorization);
    if (!principal) {
      res.setHeader('www-authenticate', 'Bearer realm="mcpq"');
      return sendError(res, 401, -32001, 'a valid bearer token is required (Authorization: Bearer <token>)', ErrorCode.unauthorized);
    }
    if (this.state !== 'running') return sendError(res, 503, -32603, 'the gateway is shutting down; try again (another replica)');
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return sendError(res, 405, -32000, 'this gateway has no sessions and no GET stream: POST requests to /mcp');
    }
    const body = await readBody(req, this.options.maxArgumentsBytes + ENVELOPE_BYTES);
    if (body === 'too_large') return sendError(res, 413, -32600, 'request too large', ErrorCode.arguments_too_large);
    let message: unknown;
    try {
      message = JSON.parse(body);
    } catch {
      return sendError(res, 400, -32700, 'parse error: the body is not JSON');
    }
    this.open++;
    try {
      await this.serve(req, res, body, message, principal);
    } catch (err) {
      this.options.logger.error({ err: describeError(err) }, 'gateway request failed');
      if (!res.headersSent) sendError(res, 500, -32603, 'internal error of the gateway', ErrorCode.internal);
    } finally {
      this.open--;
    }
  }

  /** One JSON-RPC message, answered by an SDK server of its own. Resolves when the response is finished or the host left. */
  private async serve(req: IncomingMessage, res: ServerResponse, body: string, message: unknown, principal: Principal): Promise<void> {
    const hostGone = new AbortController();
    const done = new Promise<void>((resolve) => {
      res.once('close', () => {
        if (!res.writableFinished) hostGone.abort();
        resolve();
      });
    });
    const request = webRequest(req, body, hostGone.signal);
    if (!(await isLegacyRequest(request, message))) {
      const response = await this.modern.fetch(request, { parsedBody: message, authInfo: authInfoFor(principal) });
      await writeResponse(response, res);
      return;
    }
    const server = createLegacyServer(this.parts, principal, hostGone.signal);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    try {
      await server.connect(transport);
      await transport.handleRequest(req, res, message);
      await done;
    } finally {
      await server.close().catch(() => undefined);
    }
  }
}

/** The node request as a web Request (the SDK 2.x handler's input); `signal` aborts when the host leaves. */
function webRequest(req: IncomingMessage, body: string, signal: AbortSignal): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) value.forEach((v) => headers.append(name, v));
    else if (value !== undefined) headers.set(name, value);
  }
  // A fixed origin: the Host header is the client's to choose, and the handler needs only the path.
  return new Request(`http://gateway.invalid${MCP_PATH}`, { method: 'POST', headers, body, signal });
}

/** Streams a web Response (JSON or SSE) to the host; stops reading when the host leaves. */
async function writeResponse(response: Response, res: ServerResponse): Promise<void> {
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (!response.body) return void res.end();
  const body = Readable.fromWeb(response.body as never);
  res.once('close', () => body.destroy());
  try {
    for await (const chunk of body) res.write(chunk);
  } catch {
    // the host left mid-stream: nothing to send it any more
  }
  res.end();
}

function sendError(res: ServerResponse, status: number, code: number, message: string, mcpqCode?: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message, ...(mcpqCode ? { data: { code: mcpqCode } } : {}) } }));
}

/** The request body as text, or 'too_large' past `limit` bytes (the rest is not read). */
async function readBody(req: IncomingMessage, limit: number): Promise<string | 'too_large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return 'too_large';
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

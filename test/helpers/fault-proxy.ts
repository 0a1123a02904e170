/**
 * FAULT INJECTOR, not a real part: an HTTP proxy in front of a real MCP
 * server that, on request, answers with an error status, never answers,
 * cuts the connection, answers with a body no conforming server sends (a
 * wrong JSON-RPC id, non-JSON, a truncated SSE stream, an error or an event
 * of megabytes), or passes a request on and then answers like a failing
 * gateway — failures a real server cannot be made to produce at a chosen
 * moment. Everything it does not intercept is passed through unchanged,
 * streams included.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';

/** What the proxy knows of an intercepted request. */
export interface RpcInfo {
  /** JSON-RPC id of the request (POST), if any. */
  id?: string | number;
  method?: string;
  session?: string;
}

export type FaultAction =
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  /** Answer with this body (default HTTP 200, content-type application/json), never asking the server. */
  | {
      kind: 'respond';
      status?: number;
      headers?: Record<string, string>;
      body: string | Buffer | ((rpc: RpcInfo) => string | Buffer);
      thenReset?: boolean;
    }
  /** Pass the request on (the server starts it), drop the server's answer, and answer `status` like a failing gateway. */
  | { kind: 'forward-then-status'; status: number }
  /** Accept the request and never answer (until the proxy closes). */
  | { kind: 'hang' }
  /** Destroy the connection without answering (after the request reached the proxy). */
  | { kind: 'reset' }
  /**
   * Pass the request on, and write these raw SSE frames into its answer before the server's own (lies and
   * garbage on a GET stream); with `repeatEveryMs`, again that often while the stream is open (a server
   * that keeps repeating a lie).
   */
  | { kind: 'forward-with-events'; events: string; repeatEveryMs?: number };

/** A `respond` body: a JSON-RPC answer to the intercepted request (its id) carrying this result or error. */
export function jsonRpcReply(payload: { result: unknown } | { error: unknown }): (rpc: RpcInfo) => string {
  return (rpc) => JSON.stringify({ jsonrpc: '2.0', id: rpc.id, ...payload });
}

export interface FaultRule {
  /** JSON-RPC method of the request body (POST), 'GET' for stream resumption, or '*' for every request. */
  match: string;
  /** Only requests of this MCP session (Mcp-Session-Id): how a test makes the server "forget" one session. */
  session?: string;
  action: FaultAction;
  /** How many matching requests get the fault (default: all until cleared). */
  times?: number;
}

export interface RequestSeen {
  method: string;
  rpc?: string;
  session?: string;
  at: number;
  fault?: FaultAction['kind'];
  /** The W3C `traceparent` HTTP header of the request, if any. */
  traceparent?: string;
}

export class FaultProxy {
  readonly seen: RequestSeen[] = [];
  private rules: FaultRule[] = [];
  private readonly sockets = new Set<Socket>();
  /** Answers to GET requests being passed on (held streams), for dropStreams. */
  private readonly getStreams = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly target: string,
  ) {}

  static async start(target: string): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const server = createServer((req, res) => void proxy!.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    proxy = new FaultProxy(server, `http://127.0.0.1:${port}/mcp`, target);
    server.on('connection', (s) => {
      proxy!.sockets.add(s);
      s.on('close', () => proxy!.sockets.delete(s));
    });
    return proxy;
  }

  /** Adds a fault for matching requests; later rules are checked first. */
  inject(rule: FaultRule): void {
    this.rules.unshift({ ...rule });
  }

  clear(): void {
    this.rules = [];
  }

  /** Cuts every GET stream being passed on now (as a server or a load balancer dropping them); returns how many. */
  dropStreams(): number {
    const n = this.getStreams.size;
    for (const res of this.getStreams) res.destroy();
    this.getStreams.clear();
    return n;
  }

  /** Requests whose JSON-RPC method (or 'GET') matched, and what was done to them. */
  count(match: string, fault?: FaultAction['kind']): number {
    return this.seen.filter((s) => (s.rpc ?? s.method) === match && (fault === undefined || s.fault === fault)).length;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    let rpc: string | undefined;
    let id: string | number | undefined;
    if (req.method === 'POST') {
      try {
        const parsed = JSON.parse(body.toString('utf8')) as { method?: string; id?: string | number };
        rpc = parsed.method;
        id = parsed.id;
      } catch {
        rpc = undefined;
      }
    }
    const session = typeof req.headers['mcp-session-id'] === 'string' ? req.headers['mcp-session-id'] : undefined;
    const key = req.method === 'GET' ? 'GET' : rpc;
    const rule = this.rules.find(
      (r) =>
        (r.match === key || r.match === '*') &&
        (r.session === undefined || r.session === session) &&
        (r.times === undefined || r.times > 0),
    );
    const traceparent = typeof req.headers.traceparent === 'string' ? req.headers.traceparent : undefined;
    const seen: RequestSeen = {
      method: req.method ?? '',
      at: Date.now(),
      ...(rpc ? { rpc } : {}),
      ...(session ? { session } : {}),
      ...(traceparent ? { traceparent } : {}),
    };
    this.seen.push(seen);
    if (rule) {
      if (rule.times !== undefined) rule.times--;
      seen.fault = rule.action.kind;
      const a = rule.action;
      if (a.kind === 'status') {
        res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
        res.end(a.body ?? JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: `injected HTTP ${a.status}` }, id: null }));
      } else if (a.kind === 'respond') {
        const text =
          typeof a.body === 'function'
            ? a.body({ ...(id !== undefined ? { id } : {}), ...(rpc ? { method: rpc } : {}), ...(session ? { session } : {}) })
            : a.body;
        res.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...a.headers });
        if (a.thenReset) res.write(text, () => req.socket.destroy());
        else res.end(text);
      } else if (a.kind === 'forward-then-status') {
        await this.forwardThenFail(req, res, body, a.status);
      } else if (a.kind === 'reset') {
        req.socket.destroy();
      } else if (a.kind === 'forward-with-events') {
        await this.forward(req, res, body, a.events, a.repeatEveryMs);
      }
      return; // hang: leave the request open
    }
    await this.forward(req, res, body);
  }

  /** The request goes to the server (which starts it); the client gets `status` instead of the answer. */
  private async forwardThenFail(req: IncomingMessage, res: ServerResponse, body: Buffer, status: number): Promise<void> {
    const controller = new AbortController();
    try {
      const upstream = await fetch(this.target, { method: 'POST', headers: forwardedHeaders(req), body, signal: controller.signal });
      // Leave the server's stream without reading it: the call runs on upstream.
      await upstream.body?.cancel();
    } catch {
      // the server failed too: the client gets the gateway's status all the same
    }
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(`injected gateway HTTP ${status} after passing the request on`);
  }

  private async forward(req: IncomingMessage, res: ServerResponse, body: Buffer, injected?: string, repeatEveryMs?: number): Promise<void> {
    const headers = forwardedHeaders(req);
    const controller = new AbortController();
    let repeat: NodeJS.Timeout | undefined;
    if (req.method === 'GET') this.getStreams.add(res);
    res.on('close', () => {
      clearInterval(repeat);
      this.getStreams.delete(res);
      controller.abort();
    });
    try {
      const upstream = await fetch(this.target, {
        method: req.method ?? 'GET',
        headers,
        ...(req.method === 'POST' ? { body } : {}),
        signal: controller.signal,
      });
      const out: Record<string, string> = {};
      upstream.headers.forEach((v, k) => {
        if (!['content-length', 'transfer-encoding', 'connection'].includes(k)) out[k] = v;
      });
      res.writeHead(upstream.status, out);
      // A stream's head goes out at once, as the server sent it (node would hold it until the first event).
      res.flushHeaders();
      if (injected !== undefined) res.write(injected);
      if (injected !== undefined && repeatEveryMs !== undefined && !res.destroyed) {
        repeat = setInterval(() => res.write(injected), repeatEveryMs);
      }
      if (!upstream.body) return void res.end();
      Readable.fromWeb(upstream.body as import('node:stream/web').ReadableStream)
        .on('error', () => res.destroy())
        .pipe(res);
    } catch {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    }
  }
}

function forwardedHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v;
  }
  return headers;
}

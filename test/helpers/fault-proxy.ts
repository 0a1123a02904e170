/**
 * FAULT INJECTOR, not a real part: an HTTP proxy in front of a real MCP
 * server that, on request, answers with an error status, never answers, or
 * cuts the connection — failures a real server cannot be made to produce at
 * a chosen moment. Everything it does not intercept is passed through
 * unchanged, streams included.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';

export type FaultAction =
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  /** Accept the request and never answer (until the proxy closes). */
  | { kind: 'hang' }
  /** Destroy the connection without answering (after the request reached the proxy). */
  | { kind: 'reset' };

export interface FaultRule {
  /** JSON-RPC method of the request body (POST), or 'GET' for stream resumption. */
  match: string;
  action: FaultAction;
  /** How many matching requests get the fault (default: all until cleared). */
  times?: number;
}

export interface RequestSeen {
  method: string;
  rpc?: string;
  at: number;
  fault?: FaultAction['kind'];
}

export class FaultProxy {
  readonly seen: RequestSeen[] = [];
  private rules: FaultRule[] = [];
  private readonly sockets = new Set<Socket>();

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
    if (req.method === 'POST') {
      try {
        rpc = (JSON.parse(body.toString('utf8')) as { method?: string }).method;
      } catch {
        rpc = undefined;
      }
    }
    const key = req.method === 'GET' ? 'GET' : rpc;
    const rule = this.rules.find((r) => r.match === key && (r.times === undefined || r.times > 0));
    const seen: RequestSeen = { method: req.method ?? '', at: Date.now(), ...(rpc ? { rpc } : {}) };
    this.seen.push(seen);
    if (rule) {
      if (rule.times !== undefined) rule.times--;
      seen.fault = rule.action.kind;
      const a = rule.action;
      if (a.kind === 'status') {
        res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
        res.end(a.body ?? JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: `injected HTTP ${a.status}` }, id: null }));
      } else if (a.kind === 'reset') {
        req.socket.destroy();
      }
      return; // hang: leave the request open
    }
    await this.forward(req, res, body);
  }

  private async forward(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v;
    }
    const controller = new AbortController();
    res.on('close', () => controller.abort());
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

/**
 * The connections of the MCP HTTP client (mcp/http-transport.ts, node:http):
 * a connection that is never made within connectTimeoutMs fails as never
 * sent (`requestReachedServer`: no), where waiting for the response head
 * would have judged it `maybe` and ended a non-idempotent call
 * outcome_unknown; keep-alive connections are reused, and one the server
 * closes while idle is dropped from the pool; a request that goes out on a
 * pooled connection the server closes without answering is not retried and
 * stays `maybe` (nothing proves the server did not read it); a tools/call
 * answered on its POST stream leaves its connection to the next call; what
 * a server streams after an answer is dropped within a bound, then cut.
 *
 * The servers here are fakes (plain node:http JSON-RPC responders, no MCP
 * SDK): they close connections on demand, which a real server does not;
 * except the last test's, the example MCP server (the SDK) behind a TCP
 * forwarder that counts connections.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ErrorCode,
  LimitsConfigSchema,
  McpHttpClient,
  pooledSockets,
  requestReachedServer,
  startResumableCall,
  toolCallIds,
  type McpqError,
} from '@mcpq/shared';
import { startExampleServer } from '@mcpq/example-server';
import { waitFor } from '../helpers/harness.js';

const { maxResponseBytes, maxRetryAfterMs } = LimitsConfigSchema.parse({});
const SESSION = { protocolVersion: '2025-11-25' };
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function failure(p: Promise<unknown>): Promise<McpqError> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as McpqError,
  );
}

/**
 * A fake JSON-RPC server counting requests and connections; `onRequest`
 * may take over an answer (return true when it did).
 */
async function fakeServer(onRequest?: (req: IncomingMessage, res: ServerResponse, nthOnSocket: number) => boolean) {
  const seen: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
  const perSocket = new WeakMap<Socket, number>();
  let connections = 0;
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    seen.push({ headers: req.headers, body });
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    if (onRequest?.(req, res, n)) return;
    const id = (JSON.parse(body) as { id?: unknown }).id ?? null;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, result: { n: seen.length } }));
  });
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(
    () => new Promise((r) => server.close(r)),
    () => server.closeAllConnections(),
  );
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  return { server, url, seen, connections: () => connections };
}

const client = (url: string, extra: { requestTimeoutMs?: number; connectTimeoutMs?: number } = {}) =>
  new McpHttpClient({ url, headers: {}, requestTimeoutMs: 5_000, maxResponseBytes, maxRetryAfterMs, ...extra });

describe('making the connection', () => {
  it('a connection not made within connectTimeoutMs fails as never sent, well before the head timeout', async () => {
    // A listener whose process never accepts (its event loop blocks): the kernel queues what fits
    // its backlog of 1, then drops further SYNs, so a new connection hangs in its handshake.
    const child: ChildProcess = spawn(
      process.execPath,
      [
        '-e',
        `const s = require('node:net').createServer();
         s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
           process.stdout.write(s.address().port + '\\n');
           setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000), 20);
         });`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    cleanups.push(() => child.kill('SIGKILL'));
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    const port = Number(line.toString().trim());
    await new Promise((r) => setTimeout(r, 100));
    // Fill the accept queue: these handshakes complete (nobody accepts them); later ones hang.
    const fillers: Socket[] = [];
    for (let i = 0; i < 4; i++) fillers.push(connect({ port, host: '127.0.0.1' }).on('error', () => undefined));
    cleanups.push(() => fillers.forEach((s) => s.destroy()));
    await waitFor('the accept queue to fill', () => fillers.filter((s) => !s.connecting).length >= 2, 5_000, 20);

    const http = client(`http://127.0.0.1:${port}/mcp`, { connectTimeoutMs: 300, requestTimeoutMs: 10_000 });
    const err = await failure(http.post(SESSION, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } }));
    expect(err.code).toBe(ErrorCode.server_unreachable);
    expect(err.message).toMatch(/no connection within 300 ms/);
    expect(requestReachedServer(err)).toBe('no');
  });
});

describe('keep-alive connections', () => {
  it('are reused; one the server closed while idle is dropped, and the next request goes out on a new one; no accept-encoding is sent', async () => {
    const fake = await fakeServer();
    const http = client(fake.url);
    await http.request(SESSION, 'tools/list', undefined);
    await http.request(SESSION, 'tools/list', undefined);
    expect(fake.connections()).toBe(1);

    fake.server.closeIdleConnections();
    await waitFor('the client to drop the closed connection', () => pooledSockets().free === 0, 5_000, 10);
    expect(await http.request(SESSION, 'tools/list', undefined)).toEqual({ n: 3 });
    expect(fake.connections()).toBe(2);
    // node:http does not decompress: nothing may ask for an encoding, so caps count what arrives.
    for (const { headers, body } of fake.seen) {
      expect(headers['accept-encoding']).toBeUndefined();
      expect(Number(headers['content-length'])).toBe(Buffer.byteLength(body));
    }
  });

  it('a tools/call on a pooled connection the server closes without answering is not retried and may have reached the server', async () => {
    // The server reads the request, then drops the connection (as one closing an idle socket at that moment would look).
    const fake = await fakeServer((req, _res, n) => {
      if (n < 2) return false;
      req.socket.destroy();
      return true;
    });
    const http = client(fake.url);
    await http.request(SESSION, 'tools/list', undefined);
    const err = await failure(http.post(SESSION, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'x' } }));
    expect(err.code).toBe(ErrorCode.server_unreachable);
    expect(requestReachedServer(err)).toBe('maybe');
    expect(fake.seen.filter((s) => s.body.includes('tools/call'))).toHaveLength(1);
  });
});

describe('answered tools/call streams', () => {
  it('leave their keep-alive connection to the next call (one connection for many short calls, not one each)', async () => {
    const server = await startExampleServer();
    cleanups.push(() => server.close());
    // A plain TCP forwarder in front of the real server: it only counts the connections made.
    let connections = 0;
    const open = new Set<Socket>();
    const forwarder = createNetServer((socket) => {
      connections++;
      open.add(socket);
      const upstream = connect(server.port, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    forwarder.listen(0, '127.0.0.1');
    await once(forwarder, 'listening');
    cleanups.push(() => {
      // The pooled connection would otherwise keep both servers' close waiting for its keep-alive timeout.
      for (const socket of open) socket.destroy();
      return new Promise((r) => forwarder.close(r));
    });
    const http = client(`http://127.0.0.1:${(forwarder.address() as AddressInfo).port}${new URL(server.url).pathname}`);
    const session = await http.initialize();
    const window = { windowMs: 5_000, onEvent: async () => undefined };
    const calls = 10;
    for (let i = 0; i < calls; i++) {
      const ids = toolCallIds(`conn-${i}`, 1);
      const message = {
        jsonrpc: '2.0',
        id: ids.requestId,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: `hi ${i}` }, _meta: { progressToken: ids.progressToken } },
      };
      const outcome = await startResumableCall(http, session, message, ids, 10_000, window);
      expect(outcome.kind).toBe('finished');
      // What followed the answer is read in the background; the connection is then free for the next call.
      await waitFor("the answered call's connection back in the pool", () => pooledSockets().free > 0, 5_000, 5);
    }
    // initialize and its notification may take two; every call after that reuses one of them (destroyed streams: one each).
    expect(connections).toBeLessThanOrEqual(2);
  });
});

describe('what follows an answer on its stream', () => {
  it('is dropped within a bound: a server that streams forever after the answer has its stream cut, and the next requests get their own answers', async () => {
    // Fake (a plain node:http responder): after the answer it writes events without end, up to 200 MB,
    // which no SDK server does on demand. Each event claims to answer a later request (mcpq-…): none may.
    let cutBeforeEnd = 0;
    let finished = 0;
    const fake = await fakeServer((req, res) => {
      if (fake.seen.length > 1 || req.method !== 'POST') return false;
      const { id } = JSON.parse(fake.seen.at(-1)!.body) as { id: string };
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ jsonrpc: '2.0', id, result: { first: true } })}\n\n`);
      const junk = Buffer.from(`data: ${JSON.stringify({ jsonrpc: '2.0', id: 'later', result: { junk: 'j'.repeat(16_000) } })}\n\n`);
      let written = 0;
      const pump = (): void => {
        while (!res.destroyed && written < 200e6) {
          written += junk.length;
          if (!res.write(junk)) return void res.once('drain', pump);
        }
        if (!res.destroyed) res.end(() => finished++);
      };
      res.on('close', () => {
        if (written < 200e6) cutBeforeEnd++;
      });
      pump();
      return true;
    });
    const http = client(fake.url);
    // The first request is answered, then flooded: the caller has its answer at once.
    expect(await http.request(SESSION, 'tools/list', {})).toEqual({ first: true });
    // What follows is read in the background, within http-transport's bound (100 ms, 64 KB), then cut.
    await waitFor('the flood cut', () => cutBeforeEnd === 1, 10_000);
    for (let i = 0; i < 3; i++) expect(await http.request(SESSION, 'tools/list', {})).toEqual({ n: i + 2 });
    expect(finished).toBe(0);
  });
});

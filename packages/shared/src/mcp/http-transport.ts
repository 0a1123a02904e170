/**
 * Every HTTP request mcpq makes to an MCP server, over node:http/node:https.
 * Not fetch: fetch wraps each request in a Request, a Response, Headers and
 * web streams (allocation churn on every tools/call and tasks/get, and about
 * 15 KB of live heap per held stream), and touching it loads undici (about
 * 30 MB of RSS in Node 20). Here an answer is the IncomingMessage: a socket,
 * its native parser and one Readable.
 *
 * This module opens a request and waits for the response head, bounded; what
 * the answer means (status, redirect refused, errors redacted) is decided by
 * the McpHttpClient. Redirects are never followed (node:http does not follow
 * them). No accept-encoding is sent, so a server answers uncompressed
 * (node:http does not decompress, unlike fetch) and the caps on answers count
 * the bytes as they arrive.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type ClientRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { ErrorCode, McpqError } from '@mcpq/contract';

/**
 * Short requests and tools/call POSTs reuse connections (keep-alive), as
 * undici did. Node's agent stops reusing an idle socket a second before the
 * server's `Keep-Alive: timeout=` hint, and drops a pooled socket the server
 * closed. A request that still goes out on a socket the server is closing at
 * that moment fails (ECONNRESET, `socket hang up`) and is not retried here:
 * nothing proves the server did not read it, so it is judged like any reset
 * (`requestReachedServer`: maybe), as it was with fetch.
 */
const pooled = {
  http: new HttpAgent({ keepAlive: true }),
  https: new HttpsAgent({ keepAlive: true }),
};
/**
 * The held resume GET connects by itself, with no agent (plain HTTP): an
 * agent keeps, per socket, four listeners and a copy of the request's options
 * (about 1.2 KB of heap for as long as the stream is held), and pools nothing
 * useful for a stream this long. HTTPS keeps an agent without keep-alive,
 * which does the TLS parts (server name, session reuse).
 */
const heldHttpsAgent = new HttpsAgent({ keepAlive: false });

/** The `code` of the error a request fails with when its connection is not made in time: it never reached the server. */
export const CONNECT_TIMEOUT_CODE = 'MCPQ_CONNECT_TIMEOUT';

/**
 * The `code` of the error a request fails with when the TLS handshake of its
 * connection failed (a certificate this process does not trust, one for
 * another host name, a reset or an alert): it never reached the server.
 * node:https writes the request only once the handshake is done and the
 * certificate accepted (`secureConnect`, which a rejected certificate never
 * reaches), whatever the TLS version. Node's own code (DEPTH_ZERO_SELF_SIGNED_CERT,
 * ERR_TLS_CERT_ALTNAME_INVALID, ...) is in the message. A code rather than a
 * mark on the error object: the redactor copies errors, keeping their code.
 */
export const TLS_FAILED_CODE = 'MCPQ_TLS_FAILED';

/** OpenSSL's verification codes for a certificate chain this process does not trust (as opposed to, say, an expired one). */
const UNTRUSTED_CERT_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_UNTRUSTED',
]);

export interface HttpRequestOptions {
  method: 'GET' | 'POST' | 'DELETE';
  headers: Record<string, string>;
  body?: string | undefined;
  /**
   * Bound on waiting for the response head. Undefined only when `signal`
   * already bounds the whole exchange (the client's short requests).
   */
  headerTimeoutMs?: number | undefined;
  /**
   * Bound on making the connection (DNS, TCP, TLS); a request whose connection
   * is not made in time fails with code CONNECT_TIMEOUT_CODE. A head timeout
   * that strikes while still connecting is a connect timeout too.
   */
  connectTimeoutMs: number;
  /** Stops the request, also once its body is being read (the body stream then fails with the reason). */
  signal?: AbortSignal | undefined;
  /** A stream held for long (the resume GET): no pooled agent (see heldHttpsAgent). */
  held?: boolean | undefined;
  /**
   * https: the CAs trusted for this server (PEM), instead of Node's roots
   * (and NODE_EXTRA_CA_CERTS). The agents pool connections per CA set.
   */
  ca?: string | undefined;
}

/** The answer: status, headers (lower-case names) and the body as a node Readable. */
export type HttpAnswer = IncomingMessage;

/** One header of an answer, repeated values joined as fetch's Headers did. */
export function headerOf(answer: HttpAnswer, name: string): string | undefined {
  const value = answer.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Sends the request; resolves with the answer (any status) once its head
 * arrives. Rejects with the network error, the signal's reason, a
 * `server_unreachable` (retryable) when no head comes in time, or an error
 * with code CONNECT_TIMEOUT_CODE or (the TLS handshake failed) TLS_FAILED_CODE.
 */
export function httpRequestTo(url: URL, options: HttpRequestOptions): Promise<HttpAnswer> {
  const { signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    let req: ClientRequest;
    const headers =
      options.body === undefined ? options.headers : { ...options.headers, 'content-length': String(Buffer.byteLength(options.body)) };
    try {
      req = open(url, options.method, headers, options.held === true, options.ca);
    } catch (err) {
      // An invalid header value (node:http checks them) or URL.
      return reject(err);
    }
    let res: IncomingMessage | undefined;
    let connected = false;
    // https: TCP is made, the TLS handshake is not done yet.
    let handshaking = false;
    const fail = (err: unknown): void => {
      cleanup();
      req.destroy();
      res?.destroy(err instanceof Error ? err : undefined);
      reject(err);
    };
    const connectTimeout = (): void =>
      fail(
        Object.assign(
          // A server that takes TCP but never finishes the handshake (a TLS port behind a stuck proxy) is told apart.
          new Error(
            handshaking
              ? `TLS handshake not completed within ${options.connectTimeoutMs} ms`
              : `no connection within ${options.connectTimeoutMs} ms`,
          ),
          { code: CONNECT_TIMEOUT_CODE },
        ),
      );
    const onAbort = (): void => fail(signal!.reason);
    let connectTimer: NodeJS.Timeout | undefined = setTimeout(connectTimeout, options.connectTimeoutMs);
    const headTimer =
      options.headerTimeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            if (!connected) return connectTimeout();
            fail(
              new McpqError(ErrorCode.server_unreachable, `no response headers within ${options.headerTimeoutMs} ms`, { retryable: true }),
            );
          }, options.headerTimeoutMs);
    const onConnected = (): void => {
      connected = true;
      clearTimeout(connectTimer);
      connectTimer = undefined;
    };
    const cleanup = (): void => {
      clearTimeout(connectTimer);
      clearTimeout(headTimer);
      signal?.removeEventListener('abort', onAbort);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.once('socket', (socket: Socket) => {
      // A pooled socket is already connected; a new one is connected once TCP (and TLS, for https) is done.
      if (!socket.connecting) return onConnected();
      if (url.protocol !== 'https:') return void socket.once('connect', onConnected);
      socket.once('connect', () => (handshaking = !connected));
      socket.once('secureConnect', onConnected);
    });
    req.on('error', (err: Error) => fail(handshaking && !connected ? tlsFailure(err) : err));
    req.once('response', (answer: IncomingMessage) => {
      res = answer;
      onConnected();
      clearTimeout(headTimer);
      // The reader sees the stream's errors through its own listener; this one only keeps a late
      // error (after the reader left) from becoming an uncaught exception.
      answer.on('error', () => undefined);
      resolve(answer);
      // From here the caller reads the body: an abort ends it (the reader then fails).
      answer.once('close', cleanup);
    });
    req.end(options.body);
  });
}

/**
 * A TLS handshake's failure, said as one: node's messages ("self-signed
 * certificate", "unable to verify the first certificate") do not say that
 * they come from TLS, nor what to do about a private CA. Node's code is kept
 * in the message; the error's code says "never sent" (TLS_FAILED_CODE).
 */
function tlsFailure(err: Error): Error {
  const code = (err as { code?: unknown }).code;
  const hint =
    typeof code === 'string' && UNTRUSTED_CERT_CODES.has(code)
      ? "; the server's certificate is not signed by a CA this process trusts: give its CA in the server's tls.caFile, or to the whole process in NODE_EXTRA_CA_CERTS"
      : '';
  const message = `TLS handshake failed: ${err.message}${typeof code === 'string' ? ` (${code})` : ''}${hint}`;
  return Object.assign(new Error(message), { code: TLS_FAILED_CODE });
}

function open(url: URL, method: string, headers: Record<string, string>, held: boolean, ca: string | undefined): ClientRequest {
  if (url.protocol === 'https:') {
    return httpsRequest(url, { method, headers, agent: held ? heldHttpsAgent : pooled.https, ...(ca !== undefined ? { ca } : {}) });
  }
  if (!held) return httpRequest(url, { method, headers, agent: pooled.http });
  // Plain values for the connector, so that it does not keep the URL object alive with the socket.
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 80);
  return httpRequest(url, { method, headers, createConnection: () => connect({ host, port }) });
}

/**
 * Done with an answer whose body nobody needs (a notification's 202, a
 * DELETE, what follows the answer on a short request's stream): reads the
 * rest, dropping it, so the socket goes back to the pool;
 * a body longer than `maxBytes` or slower than `ms` is cut (the socket closes).
 */
export function discard(answer: Readable, ms = 100, maxBytes = 64 * 1024): void {
  if (answer.readableEnded || answer.destroyed) return;
  let bytes = 0;
  const timer = setTimeout(() => answer.destroy(), ms);
  answer.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > maxBytes) answer.destroy();
  });
  answer.once('close', () => clearTimeout(timer));
  answer.resume();
}

/** Connections currently open or pooled by the keep-alive agents, by state (tests, diagnostics). */
export function pooledSockets(): { free: number; busy: number } {
  let free = 0;
  let busy = 0;
  for (const agent of [pooled.http, pooled.https]) {
    for (const list of Object.values(agent.freeSockets)) free += list?.length ?? 0;
    for (const list of Object.values(agent.sockets)) busy += list?.length ?? 0;
  }
  return { free, busy };
}

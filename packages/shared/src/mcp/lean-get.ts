/**
 * The resume GET over node:http instead of fetch. A held resume-mode call
 * keeps its GET open for as long as the tool runs, thousands at once; fetch
 * wraps each one in a Request, a Response, a web ReadableStream, Headers,
 * fetch params and timing info (about 15 KB of live heap per stream),
 * where node:http keeps a socket, its native parser and one Readable.
 *
 * This opens the request and waits for the response head, bounded; what the
 * answer means (status, redirect refused, errors redacted) is decided by the
 * McpHttpClient, like for every other request. Redirects are never followed
 * (node:http does not follow them).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ErrorCode, McpqError } from '@mcpq/contract';

/**
 * A plain-HTTP GET connects by itself, with no agent: an agent keeps, per
 * socket, four listeners and a copy of the request's options (about 1.2 KB
 * of heap for as long as the stream is held), and pools nothing useful for
 * a stream this long. HTTPS keeps an agent (without keep-alive), which
 * does the TLS parts (server name, session reuse).
 */
const httpsAgent = new HttpsAgent({ keepAlive: false });

export interface LeanGetOptions {
  headers: Record<string, string>;
  /** Bound on waiting for the response head. */
  headerTimeoutMs: number;
  /** Stops the request, also once its body is being read (the body stream then fails). */
  signal?: AbortSignal | undefined;
}

/**
 * GETs `url`; resolves with the response (any status) once its head arrives.
 * Rejects with the network error, the abort reason, or a `server_unreachable`
 * (retryable) when no head comes within `headerTimeoutMs`.
 */
export function leanGet(url: string, options: LeanGetOptions): Promise<IncomingMessage> {
  const { signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const target = new URL(url);
    // Plain values for the connector, so that it does not keep the URL object alive with the socket.
    const host = target.hostname.replace(/^\[|\]$/g, '');
    const port = Number(target.port || 80);
    const req =
      target.protocol === 'https:'
        ? httpsRequest(target, { method: 'GET', headers: options.headers, agent: httpsAgent })
        : httpRequest(target, { method: 'GET', headers: options.headers, createConnection: () => connect({ host, port }) });
    let res: IncomingMessage | undefined;
    const fail = (err: unknown): void => {
      cleanup();
      req.destroy();
      res?.destroy(err instanceof Error ? err : undefined);
      reject(err);
    };
    const onAbort = (): void => fail(signal!.reason);
    const timer = setTimeout(
      () =>
        fail(new McpqError(ErrorCode.server_unreachable, `no response headers within ${options.headerTimeoutMs} ms`, { retryable: true })),
      options.headerTimeoutMs,
    );
    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', fail);
    req.once('response', (answer: IncomingMessage) => {
      res = answer;
      clearTimeout(timer);
      // The reader sees the stream's errors through its own listener; this one only keeps a late
      // error (after the reader left) from becoming an uncaught exception.
      answer.on('error', () => undefined);
      resolve(answer);
      // From here the caller reads the body: an abort ends it (the reader then fails, as with fetch).
      answer.once('close', cleanup);
    });
    req.end();
  });
}

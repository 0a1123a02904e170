/** Small HTTP helpers of the console: JSON answers, bounded bodies, server-sent events. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { McpqError, type ErrorCode } from '@mcpq/shared';

/** Headers on every answer: no caching of call data, no framing, no sniffing, no referrer leaks. */
export const SECURITY_HEADERS: Record<string, string> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(text);
}

/** An error answer: `{ error: { code, message } }` with a stable code from docs/errors.md. */
export function sendError(res: ServerResponse, status: number, code: ErrorCode, message: string): void {
  sendJson(res, status, { error: { code, message } });
}

export function sendText(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': contentType, ...headers });
  res.end(body);
}

/** Reads a request body of at most `limit` bytes; a larger one is refused, not truncated. */
export async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new McpqError('invalid_request', `request body larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface EventStream {
  send(event: string, data: unknown): void;
  /** Resolves when the browser goes away (or close() was called). */
  readonly closed: Promise<void>;
  readonly signal: AbortSignal;
  close(): void;
}

/** Opens a server-sent events answer with a keep-alive comment every 15 s (proxies close silent streams). */
export function openEventStream(req: IncomingMessage, res: ServerResponse): EventStream {
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'x-accel-buffering': 'no' });
  res.write(': mcpq console\n\n');
  const abort = new AbortController();
  let done!: () => void;
  const closed = new Promise<void>((r) => (done = r));
  const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
  const finish = () => {
    if (abort.signal.aborted) return;
    clearInterval(ping);
    abort.abort();
    done();
  };
  req.once('close', finish);
  res.once('close', finish);
  return {
    send(event, data) {
      if (!abort.signal.aborted) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    closed,
    signal: abort.signal,
    close() {
      finish();
      res.end();
    },
  };
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A lean MCP Streamable HTTP client: exactly the requests mcpq makes
 * (initialize, short requests, the tools/call POST whose stream we may leave
 * without cancelling the call, the resume GET with Last-Event-ID, DELETE).
 * The SDK's Client would cancel a call when we stop reading it and keeps
 * ~60 KB per request; mcpq needs to detach and to hold thousands of streams.
 * HTTP failures become McpqErrors with stable codes and a `retryable` flag.
 */
import { readBodyCapped, readBodyPrefix } from '../bounds/body.js';
import { clipText } from '../bounds/json.js';
import { capDelay } from '../bounds/delay.js';
import { Redactor, redactUrl } from '../bounds/redact.js';
import { describeError, ErrorCode, McpqError } from '@mcpq/contract';
import { classify, parseEventData, sameId, type JsonRpcId, type JsonRpcMessage } from './jsonrpc.js';
import { readSse } from './sse.js';
import { leanGet } from './lean-get.js';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { CLIENT_INFO } from './client-info.js';
import { jsonRpcErrorOf, modernError, type ProtocolEra } from './protocol-2026.js';

/** The protocol mcpq asks for: it has priming events and tasks. */
export const MCP_PROTOCOL_VERSION = '2025-11-25';
/** Versions mcpq accepts when a server negotiates down. */
export const SUPPORTED_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26'];

export interface McpEndpoint {
  url: string;
  /** Configured headers (secrets resolved). */
  headers: Record<string, string>;
  /** Bound on short requests, and on waiting for response headers of long ones. */
  requestTimeoutMs: number;
  /** Bound on opening a session (initialize); requestTimeoutMs when not given. */
  connectTimeoutMs?: number | undefined;
  /** Largest answer read (a JSON body, or one SSE event): `limits.maxResponseBytes` (required: the config is the one home of its default). */
  maxResponseBytes: number;
  /** Cap on a server's `Retry-After`: `limits.maxRetryAfterMs` (required, as above). */
  maxRetryAfterMs: number;
}

/** What mcpq keeps of an MCP session; the same fields live in the call record. */
export interface McpSession {
  sessionId?: string | undefined;
  protocolVersion: string;
}

export interface InitializedSession extends McpSession {
  /** The protocol era (a call's `protocol` field): an initialized session is always the 2025-11-25 era. */
  protocol: Extract<ProtocolEra, '2025-11-25'>;
  capabilities: Record<string, unknown>;
  serverInfo: { name?: string; version?: string };
  /** The initialize response stream carried an SSE event id (priming event): streams can be resumed. */
  resumable: boolean;
}

export interface RequestOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  /** Extra headers for this request only (e.g. traceparent). */
  headers?: Record<string, string> | undefined;
}

let nextRequestNumber = 1;

export class McpHttpClient {
  /** The URL as it may be shown: user info and query values redacted. Every message and log line uses this one. */
  readonly safeUrl: string;
  /** Removes the configured secrets from whatever a server or the network stack said. */
  readonly redactor: Redactor;
  /** Largest answer read (a JSON body, or one SSE event). */
  readonly maxResponseBytes: number;
  private readonly fetchUrl: string;
  private readonly baseHeaders: Record<string, string>;

  constructor(readonly endpoint: McpEndpoint) {
    this.safeUrl = redactUrl(endpoint.url);
    this.redactor = new Redactor(endpoint.url, Object.values(endpoint.headers));
    this.maxResponseBytes = endpoint.maxResponseBytes;
    const { url, headers } = credentialsAsHeader(endpoint.url, endpoint.headers);
    this.fetchUrl = url;
    this.baseHeaders = headers;
  }

  /** Opens a session: initialize, then notifications/initialized. */
  async initialize(options: RequestOptions = {}): Promise<InitializedSession> {
    const id = `mcpq-init-${nextRequestNumber++}`;
    const body = {
      jsonrpc: '2.0',
      id,
      method: 'initialize',
      params: { protocolVersion: MCP_PROTOCOL_VERSION, capabilities: {}, clientInfo: CLIENT_INFO },
    };
    const bounded = withTimeout(options.signal, options.timeoutMs ?? this.endpoint.connectTimeoutMs ?? this.endpoint.requestTimeoutMs);
    try {
      const res = await this.send(
        'POST',
        { protocolVersion: MCP_PROTOCOL_VERSION },
        JSON.stringify(body),
        bounded.signal,
        options.headers,
        true,
      );
      const sessionId = res.headers.get('mcp-session-id') ?? undefined;
      let resumable = false;
      const message = await readResponse(res, id, this.maxResponseBytes, (eventId) => {
        if (eventId) resumable = true;
      });
      const result = expectResult(message, 'initialize');
      const protocolVersion = typeof result.protocolVersion === 'string' ? result.protocolVersion : '';
      if (!SUPPORTED_PROTOCOL_VERSIONS.includes(protocolVersion)) {
        throw new McpqError(ErrorCode.protocol_error, `server negotiated unsupported MCP protocol version "${protocolVersion}"`);
      }
      const session: InitializedSession = {
        protocol: '2025-11-25',
        sessionId,
        protocolVersion,
        capabilities: isRecord(result.capabilities) ? result.capabilities : {},
        serverInfo: isRecord(result.serverInfo) ? (result.serverInfo as InitializedSession['serverInfo']) : {},
        resumable,
      };
      await this.notify(session, 'notifications/initialized', undefined, { signal: bounded.signal });
      return session;
    } catch (err) {
      throw this.redactor.error(bounded.translate(err, 'initialize'));
    } finally {
      bounded.done();
    }
  }

  /** A request whose answer is short (tools/list, tasks/get, ...): returns the JSON-RPC result. */
  async request(
    session: McpSession,
    method: string,
    params: Record<string, unknown> | undefined,
    options: RequestOptions = {},
  ): Promise<Record<string, unknown>> {
    const id = `mcpq-${nextRequestNumber++}`;
    const bounded = withTimeout(options.signal, options.timeoutMs ?? this.endpoint.requestTimeoutMs);
    try {
      const res = await this.send(
        'POST',
        session,
        JSON.stringify(params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params }),
        bounded.signal,
        options.headers,
      );
      return expectResult(await readResponse(res, id, this.maxResponseBytes), method);
    } catch (err) {
      throw this.redactor.error(bounded.translate(err, method));
    } finally {
      bounded.done();
    }
  }

  async notify(session: McpSession, method: string, params?: Record<string, unknown>, options: RequestOptions = {}): Promise<void> {
    const bounded = withTimeout(options.signal, options.timeoutMs ?? this.endpoint.requestTimeoutMs);
    try {
      const res = await this.send(
        'POST',
        session,
        JSON.stringify(params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params }),
        bounded.signal,
        options.headers,
      );
      await res.body?.cancel();
    } catch (err) {
      throw this.redactor.error(bounded.translate(err, method));
    } finally {
      bounded.done();
    }
  }

  /** Answers a server-to-client request (ping) on the session. */
  async respond(
    session: McpSession,
    id: JsonRpcId,
    result: Record<string, unknown> | { error: { code: number; message: string } },
  ): Promise<void> {
    const body = 'error' in result ? { jsonrpc: '2.0', id, error: result.error } : { jsonrpc: '2.0', id, result };
    const bounded = withTimeout(undefined, this.endpoint.requestTimeoutMs);
    try {
      const res = await this.send('POST', session, JSON.stringify(body), bounded.signal);
      await res.body?.cancel();
    } catch (err) {
      throw this.redactor.error(bounded.translate(err, 'response'));
    } finally {
      bounded.done();
    }
  }

  /**
   * POSTs a request whose answer may take long (tools/call). Resolves once the
   * response headers arrive (bounded by requestTimeoutMs); the caller reads
   * the body with `readSse` or `readResponse` and may abort `signal` to leave
   * the stream without cancelling the call upstream.
   */
  async post(session: McpSession, message: Record<string, unknown>, options: RequestOptions = {}): Promise<Response> {
    // The trace context a tools/call carries in `_meta` goes in the W3C HTTP header too, for servers traced at the HTTP layer.
    const traceparent = traceparentOfMessage(message);
    const headers = traceparent ? { traceparent, ...options.headers } : options.headers;
    return this.open('POST', session, JSON.stringify(message), { ...options, headers });
  }

  /**
   * Resumes a stream: GET with Last-Event-ID. The server replays what followed
   * that event, then goes on live. Resolves once the response head arrives
   * (bounded by requestTimeoutMs) with the body as a node Readable, to read
   * with `readSse`; aborting `signal` ends it. This stream is held as long as
   * the call runs, thousands at once, so it is read without fetch
   * (lean-get.ts); statuses, redirects and redaction are judged as for every
   * other request.
   */
  async resume(session: McpSession, lastEventId: string | undefined, options: RequestOptions = {}): Promise<Readable> {
    const what = `GET ${this.safeUrl}`;
    let res: IncomingMessage;
    try {
      res = await leanGet(this.fetchUrl, {
        // Without lastEventId: the session's standalone GET stream (server-sent notifications, e.g. notifications/tasks/status).
        headers: this.headersFor('GET', session, false, { ...options.headers, ...(lastEventId !== undefined ? { 'last-event-id': lastEventId } : {}) }),
        headerTimeoutMs: options.timeoutMs ?? this.endpoint.requestTimeoutMs,
        signal: options.signal,
      });
    } catch (err) {
      throw this.redactor.error(toHttpError(err, what));
    }
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) {
      // Nothing reads a resumed stream's headers, and it may be held for hours: keep none of them.
      res.rawHeaders.length = 0;
      return res;
    }
    if (status > 599) {
      res.destroy();
      throw this.redactor.error(
        new McpqError(ErrorCode.protocol_error, `${what} answered HTTP ${status}`, { data: { httpStatus: status } }),
      );
    }
    // Not the held path: the error answer goes through the same judgement as fetch's.
    const answer = asResponse(res);
    const text = this.redactor.text(await readBodyPrefix(answer));
    throw this.redactor.error(
      statusError(answer, text, what, session, this.endpoint.maxRetryAfterMs, this.fetchUrl),
    );
  }

  /** Ends a session (DELETE). Best effort. */
  async terminate(session: McpSession): Promise<void> {
    if (!session.sessionId) return;
    const bounded = withTimeout(undefined, this.endpoint.requestTimeoutMs);
    try {
      const res = await this.send('DELETE', session, undefined, bounded.signal);
      await res.body?.cancel();
    } catch {
      // The server may already have dropped it.
    } finally {
      bounded.done();
    }
  }

  private async open(method: 'GET' | 'POST', session: McpSession, body: string | undefined, options: RequestOptions): Promise<Response> {
    // The caller's signal must reach the body (it is how a follower stops reading),
    // but the header timeout must not: it is cleared once headers arrive.
    const controller = new AbortController();
    const onAbort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    const timeoutMs = options.timeoutMs ?? this.endpoint.requestTimeoutMs;
    const timer = setTimeout(
      () =>
        controller.abort(new McpqError(ErrorCode.server_unreachable, `no response headers within ${timeoutMs} ms`, { retryable: true })),
      timeoutMs,
    );
    try {
      return await this.send(method, session, body, controller.signal, options.headers);
    } catch (err) {
      options.signal?.removeEventListener('abort', onAbort);
      const reason = controller.signal.reason;
      throw this.redactor.error(reason instanceof McpqError ? reason : toHttpError(err, `${method} ${this.safeUrl}`));
    } finally {
      clearTimeout(timer);
    }
  }

  private async send(
    method: 'GET' | 'POST' | 'DELETE',
    session: McpSession,
    body: string | undefined,
    signal: AbortSignal,
    extra?: Record<string, string>,
    initializing = false,
  ): Promise<Response> {
    const headers = this.headersFor(method, session, body !== undefined, extra, initializing);
    let res: Response;
    try {
      // Redirects are not followed: the configured headers (credentials) would go wherever they point.
      res = await fetch(this.fetchUrl, { method, headers, body, signal, redirect: 'manual' });
    } catch (err) {
      throw toHttpError(err, `${method} ${this.safeUrl}`);
    }
    if (res.ok) return res;
    const text = this.redactor.text(await readBodyPrefix(res));
    throw statusError(res, text, `${method} ${this.safeUrl}`, session, this.endpoint.maxRetryAfterMs);
  }

  private headersFor(
    method: 'GET' | 'POST' | 'DELETE',
    session: McpSession,
    hasBody: boolean,
    extra?: Record<string, string>,
    initializing = false,
  ): Record<string, string> {
    const headers: Record<string, string> = {
      ...this.baseHeaders,
      accept: method === 'GET' ? 'text/event-stream' : 'application/json, text/event-stream',
      ...extra,
    };
    if (hasBody) headers['content-type'] = 'application/json';
    if (session.sessionId) headers['mcp-session-id'] = session.sessionId;
    if (!initializing) headers['mcp-protocol-version'] = session.protocolVersion;
    return headers;
  }
}

/** A node:http error answer as a fetch Response, so that one function judges every status. */
function asResponse(res: IncomingMessage): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const status = res.statusCode ?? 500;
  // A 304 may carry no body in a Response (and a server sends none with it).
  if (status === 304) res.destroy();
  return new Response(status === 304 ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, headers });
}

/**
 * Reads one JSON-RPC response from a POST answer (JSON body or SSE stream).
 * `maxBytes` is the client's cap (`limits.maxResponseBytes`), required with
 * no fallback so that no reader can forget it. `onEventId` sees each SSE
 * event id (to detect resumability).
 */
export async function readResponse(
  res: Response,
  id: JsonRpcId,
  maxBytes: number,
  onEventId?: (eventId: string | undefined) => void,
): Promise<JsonRpcMessage> {
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('application/json')) {
    let json: unknown;
    const text = await readBodyCapped(res, maxBytes, `answer to request ${String(id)}`);
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new McpqError(ErrorCode.protocol_error, `the answer to request ${String(id)} is not JSON: ${(err as Error).message}`);
    }
    const items = Array.isArray(json) ? json : [json];
    for (const item of items) {
      const m = classify(item);
      if (m && answers(m, id, items.length === 1)) return m;
    }
    throw new McpqError(ErrorCode.protocol_error, `JSON answer holds no response to request ${String(id)}`);
  }
  if (!type.includes('text/event-stream') || !res.body) {
    throw new McpqError(ErrorCode.protocol_error, `unexpected content-type "${type}" in answer to request ${String(id)}`);
  }
  // The answer to a short request ends its stream: reading to the end lets the connection be reused.
  for await (const event of readSse(res.body, { drainMs: 100, maxEventChars: maxBytes })) {
    onEventId?.(event.id);
    const m = parseEventData(event.data);
    if (m && answers(m, id, true)) return m;
  }
  throw new McpqError(ErrorCode.protocol_error, `stream ended without a response to request ${String(id)}`, { retryable: true });
}

/**
 * Whether `m` answers request `id`. An error with `id: null` is the server's
 * answer to a request it could not read (JSON-RPC: parse error, invalid
 * request): on the response to a POST carrying one request, it is the
 * answer to that request and ends it, rather than being waited past.
 */
export function answers(
  m: JsonRpcMessage,
  id: JsonRpcId,
  onlyRequest: boolean,
): m is Extract<JsonRpcMessage, { kind: 'result' | 'error' }> {
  if (m.kind === 'result') return sameId(m.message.id, id);
  if (m.kind === 'error') return sameId(m.message.id, id) || (onlyRequest && m.message.id === null);
  return false;
}

function expectResult(message: JsonRpcMessage, method: string): Record<string, unknown> {
  if (message.kind === 'result') return message.message.result;
  if (message.kind === 'error') {
    const e = message.message.error;
    throw new McpqError(ErrorCode.upstream_error, `${method} failed: ${clipText(String(e.message))} (JSON-RPC ${e.code})`, {
      data: { jsonrpcCode: e.code, message: e.message, data: e.data },
    });
  }
  throw new McpqError(ErrorCode.protocol_error, `${method}: expected a response, got a ${message.kind}`);
}

/** An HTTP status from the MCP server, as an McpqError. `request` names the request (its URL already redacted). */
function statusError(
  res: Response,
  text: string,
  request: string,
  session: McpSession,
  maxRetryAfterMs: number,
  base: string = res.url,
): McpqError {
  const status = res.status;
  const detail = text.length > 500 ? `${text.slice(0, 500)}...` : text;
  const data = { httpStatus: status, body: detail };
  const what = `${request} answered HTTP ${status}`;
  if (status >= 300 && status < 400) {
    const target = redirectTarget(res, base);
    return new McpqError(
      ErrorCode.redirect_refused,
      `${what} (a redirect${target ? ` to ${target}` : ''}); redirects are not followed, so that the configured headers go nowhere else: configure the final URL`,
      { data: { httpStatus: status, ...(target ? { location: target } : {}) } },
    );
  }
  // 2026-07-28 servers answer protocol errors with a JSON-RPC error body (HTTP 400, or 404 with -32601).
  const rpc = jsonRpcErrorOf(text);
  const modern = rpc && modernError(rpc, status, what);
  if (modern) return modern;
  if (rpc) Object.assign(data, { jsonrpcCode: rpc.code });
  if (status === 404 && session.sessionId) {
    return new McpqError(ErrorCode.session_lost, `${what}: the server no longer knows session ${session.sessionId}`, { data });
  }
  if (status === 429 || status === 408 || status >= 500 || status === 409) {
    const asked = parseRetryAfter(res.headers.get('retry-after'));
    const retryAfterMs = asked === undefined ? undefined : capDelay(asked, { maxMs: maxRetryAfterMs });
    return new McpqError(ErrorCode.server_unreachable, `${what}${detail ? `: ${detail}` : ''}`, {
      data,
      retryable: true,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }
  if (status === 401 || status === 403) {
    return new McpqError(ErrorCode.server_unreachable, `${what}: check the server's headers (credentials) in the config`, { data });
  }
  return new McpqError(ErrorCode.protocol_error, `${what}${detail ? `: ${detail}` : ''}`, { data });
}

/** Where a redirect points, redacted; undefined when it says nothing usable. */
function redirectTarget(res: Response, base: string): string | undefined {
  const location = res.headers.get('location');
  if (!location) return undefined;
  try {
    return redactUrl(new URL(location, base || undefined).href);
  } catch {
    return '[unparseable location]';
  }
}

/** fetch() failures (refused, reset, DNS, abort) as an McpqError. */
export function toHttpError(err: unknown, what: string): McpqError {
  if (err instanceof McpqError) return err;
  if (err instanceof Error && err.name === 'AbortError') {
    return new McpqError(ErrorCode.server_unreachable, `${what}: aborted`, { cause: err, retryable: true });
  }
  return new McpqError(ErrorCode.server_unreachable, `${what}: ${describeError(err)}`, { cause: err, retryable: true });
}

export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** A signal that also fires after `ms`, and turns an abort by that timer into a clear error. */
function withTimeout(signal: AbortSignal | undefined, ms: number) {
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, ms);
  return {
    signal: controller.signal,
    translate(err: unknown, what: string): McpqError {
      if (timedOut)
        return new McpqError(ErrorCode.server_unreachable, `${what}: no answer within ${ms} ms`, { retryable: true, cause: err });
      return toHttpError(err, what);
    },
    done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Statuses a proxy or gateway answers with, also after the request reached the server behind it. */
const GATEWAY_STATUSES = new Set([502, 503, 504]);

/**
 * fetch() refuses a URL with user info: it becomes an `Authorization: Basic`
 * header (unless one is configured), and the URL is used without it.
 */
function credentialsAsHeader(url: string, headers: Record<string, string>): { url: string; headers: Record<string, string> } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { url, headers };
  }
  if (!u.username && !u.password) return { url, headers };
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  const hasAuth = Object.keys(headers).some((k) => k.toLowerCase() === 'authorization');
  return {
    url: u.href,
    headers: hasAuth ? headers : { ...headers, authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` },
  };
}

/** Network error codes that prove a request never reached the server. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * Whether a failed request may have reached the server: `no` when the
 * connection was never made or the server answered with an HTTP error
 * status (it did not start the call), `maybe` otherwise (reset, timeout).
 * This decides between a retry and `outcome_unknown`.
 */
export function requestReachedServer(err: unknown): 'no' | 'maybe' {
  if (err instanceof McpqError && isRecord(err.data) && typeof err.data.httpStatus === 'number') {
    // A gateway's 502/503/504 may come after it passed the request on: the server may have started the call.
    return GATEWAY_STATUSES.has(err.data.httpStatus) ? 'maybe' : 'no';
  }
  for (let cur: unknown = err, depth = 0; cur && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return 'no';
    cur = (cur as { cause?: unknown }).cause;
  }
  return 'maybe';
}

/** The `params._meta.traceparent` of a JSON-RPC request, when it is a string. */
function traceparentOfMessage(message: Record<string, unknown>): string | undefined {
  const params = message.params;
  const meta = isRecord(params) ? params._meta : undefined;
  const traceparent = isRecord(meta) ? meta.traceparent : undefined;
  return typeof traceparent === 'string' ? traceparent : undefined;
}

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
import { classify, isJsonObject, parseEventData, sameId, type JsonRpcId, type JsonRpcMessage } from './jsonrpc.js';
import { readSse } from './sse.js';
import { CONNECT_TIMEOUT_CODE, discard, headerOf, httpRequestTo, TLS_FAILED_CODE, type HttpAnswer } from './http-transport.js';
import type { Readable } from 'node:stream';
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
  /**
   * Bound on opening a session (initialize), and on making the connection of
   * any request (a connection not made in time never reached the server);
   * requestTimeoutMs when not given.
   */
  connectTimeoutMs?: number | undefined;
  /** Largest answer read (a JSON body, or one SSE event): `limits.maxResponseBytes` (required: the config is the one home of its default). */
  maxResponseBytes: number;
  /** Cap on a server's `Retry-After`: `limits.maxRetryAfterMs` (required, as above). */
  maxRetryAfterMs: number;
  /** https: the CAs (PEM) trusted for this server instead of Node's roots (the server's `tls.caFile`). */
  ca?: string | undefined;
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
  /** The URL requests go to (user info removed: it is a header), or why it is unusable. */
  private readonly target: URL | McpqError;
  private readonly baseHeaders: Record<string, string>;

  constructor(readonly endpoint: McpEndpoint) {
    this.safeUrl = redactUrl(endpoint.url);
    this.redactor = new Redactor(endpoint.url, Object.values(endpoint.headers));
    this.maxResponseBytes = endpoint.maxResponseBytes;
    const { url, headers } = credentialsAsHeader(endpoint.url, endpoint.headers);
    this.target = parseTarget(url);
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
      const sessionId = headerOf(res, 'mcp-session-id');
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
        capabilities: isJsonObject(result.capabilities) ? result.capabilities : {},
        serverInfo: isJsonObject(result.serverInfo) ? (result.serverInfo as InitializedSession['serverInfo']) : {},
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
      discard(res);
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
      discard(res);
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
  async post(session: McpSession, message: Record<string, unknown>, options: RequestOptions = {}): Promise<HttpAnswer> {
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
   * the call runs, thousands at once: it gets its own connection, not a
   * pooled one (http-transport.ts).
   */
  async resume(session: McpSession, lastEventId: string | undefined, options: RequestOptions = {}): Promise<Readable> {
    const res = await this.open(
      'GET',
      session,
      undefined,
      {
        ...options,
        // Without lastEventId: the session's standalone GET stream (server-sent notifications, e.g. notifications/tasks/status).
        headers: { ...options.headers, ...(lastEventId !== undefined ? { 'last-event-id': lastEventId } : {}) },
      },
      true,
    );
    // Nothing reads a resumed stream's headers, and it may be held for hours: keep none of them.
    res.rawHeaders.length = 0;
    return res;
  }

  /** Ends a session (DELETE). Best effort. */
  async terminate(session: McpSession): Promise<void> {
    if (!session.sessionId) return;
    const bounded = withTimeout(undefined, this.endpoint.requestTimeoutMs);
    try {
      const res = await this.send('DELETE', session, undefined, bounded.signal);
      discard(res);
    } catch {
      // The server may already have dropped it.
    } finally {
      bounded.done();
    }
  }

  /**
   * A request whose body is read by the caller (a stream, maybe long): the
   * caller's signal reaches the body (it is how a follower stops reading),
   * the header timeout does not.
   */
  private async open(
    method: 'GET' | 'POST',
    session: McpSession,
    body: string | undefined,
    options: RequestOptions,
    held = false,
  ): Promise<HttpAnswer> {
    const headerTimeoutMs = options.timeoutMs ?? this.endpoint.requestTimeoutMs;
    try {
      return await this.send(method, session, body, options.signal, options.headers, false, headerTimeoutMs, held);
    } catch (err) {
      throw this.redactor.error(toHttpError(err, `${method} ${this.safeUrl}`));
    }
  }

  /**
   * Sends one request; resolves with a 2xx answer once its head arrives.
   * `signal` bounds the whole exchange, or `headerTimeoutMs` the wait for
   * the head. Any other status becomes its McpqError.
   */
  private async send(
    method: 'GET' | 'POST' | 'DELETE',
    session: McpSession,
    body: string | undefined,
    signal: AbortSignal | undefined,
    extra?: Record<string, string>,
    initializing = false,
    headerTimeoutMs?: number,
    held = false,
  ): Promise<HttpAnswer> {
    if (this.target instanceof McpqError) throw this.target;
    const headers = this.headersFor(method, session, body !== undefined, extra, initializing);
    const what = `${method} ${this.safeUrl}`;
    let res: HttpAnswer;
    try {
      // Redirects are not followed (node:http never does): the configured headers (credentials) would go wherever they point.
      res = await httpRequestTo(this.target, {
        method,
        headers,
        body,
        signal,
        headerTimeoutMs,
        connectTimeoutMs: Math.min(this.endpoint.connectTimeoutMs ?? this.endpoint.requestTimeoutMs, headerTimeoutMs ?? Infinity),
        held,
        ca: this.endpoint.ca,
      });
    } catch (err) {
      throw toHttpError(err, what);
    }
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) {
      // No accept-encoding is sent, and node:http does not decompress: a compressed body would be read as
      // garbage ("not JSON", or an event stream that ends without events, taken for a transient failure).
      const encoding = headerOf(res, 'content-encoding')?.trim();
      if (encoding && encoding.toLowerCase() !== 'identity') {
        res.destroy();
        throw new McpqError(
          ErrorCode.protocol_error,
          `${what} answered with content-encoding "${clipText(encoding, 40)}", though mcpq asks for no encoding (it sends no accept-encoding): configure the server, or the proxy in front of it, not to compress MCP answers`,
          { data: { contentEncoding: clipText(encoding, 40) } },
        );
      }
      return res;
    }
    if (status > 599) {
      res.destroy();
      throw new McpqError(ErrorCode.protocol_error, `${what} answered HTTP ${status}`, { data: { httpStatus: status } });
    }
    // The error body only goes into a message: a prefix, read within the request timeout.
    const cut = setTimeout(() => res.destroy(), this.endpoint.requestTimeoutMs);
    const text = this.redactor.text(await readBodyPrefix(res).finally(() => clearTimeout(cut)));
    throw statusError(res, text, what, session, this.endpoint.maxRetryAfterMs, this.target.href);
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

/**
 * Reads one JSON-RPC response from a POST answer (JSON body or SSE stream).
 * `maxBytes` is the client's cap (`limits.maxResponseBytes`), required with
 * no fallback so that no reader can forget it. `onEventId` sees each SSE
 * event id (to detect resumability).
 */
export async function readResponse(
  res: HttpAnswer,
  id: JsonRpcId,
  maxBytes: number,
  onEventId?: (eventId: string | undefined) => void,
): Promise<JsonRpcMessage> {
  const type = headerOf(res, 'content-type') ?? '';
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
  if (!type.includes('text/event-stream')) {
    res.destroy();
    throw new McpqError(ErrorCode.protocol_error, `unexpected content-type "${type}" in answer to request ${String(id)}`);
  }
  // The answer to a short request ends its stream: what follows it is dropped in the background, and the connection reused.
  for await (const event of readSse(res, { reuseAfterExit: () => true, maxEventChars: maxBytes })) {
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
  res: HttpAnswer,
  text: string,
  request: string,
  session: McpSession,
  maxRetryAfterMs: number,
  base: string,
): McpqError {
  const status = res.statusCode ?? 0;
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
    const asked = parseRetryAfter(headerOf(res, 'retry-after'));
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
function redirectTarget(res: HttpAnswer, base: string): string | undefined {
  const location = headerOf(res, 'location');
  if (!location) return undefined;
  try {
    return redactUrl(new URL(location, base || undefined).href);
  } catch {
    return '[unparseable location]';
  }
}

/** Network failures (refused, reset, DNS, connect timeout, abort) as an McpqError. */
export function toHttpError(err: unknown, what: string): McpqError {
  if (err instanceof McpqError) return err;
  if (err instanceof Error && err.name === 'AbortError') {
    return new McpqError(ErrorCode.server_unreachable, `${what}: aborted`, { cause: err, retryable: true });
  }
  return new McpqError(ErrorCode.server_unreachable, `${what}: ${describeError(err)}`, { cause: err, retryable: true });
}

export function parseRetryAfter(value: string | null | undefined): number | undefined {
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

/** Statuses a proxy or gateway answers with, also after the request reached the server behind it. */
const GATEWAY_STATUSES = new Set([502, 503, 504]);

/**
 * A URL's user info becomes an `Authorization: Basic` header (unless one is
 * configured), and the URL is used without it: it never goes into a message.
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

/** Network error codes that prove a request never reached the server (a failed TLS handshake: see TLS_FAILED_CODE). */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  CONNECT_TIMEOUT_CODE,
  TLS_FAILED_CODE,
]);

/**
 * Whether a failed request may have reached the server: `no` when the
 * connection was never made or the server answered with an HTTP error
 * status (it did not start the call), `maybe` otherwise (reset, timeout).
 * This decides between a retry and `outcome_unknown`.
 */
export function requestReachedServer(err: unknown): 'no' | 'maybe' {
  if (err instanceof McpqError && isJsonObject(err.data) && typeof err.data.httpStatus === 'number') {
    // A gateway's 502/503/504 may come after it passed the request on: the server may have started the call.
    return GATEWAY_STATUSES.has(err.data.httpStatus) ? 'maybe' : 'no';
  }
  for (let cur: unknown = err, depth = 0; cur && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return 'no';
    // Node tries each address of a host in turn (autoSelectFamily): never sent when every attempt was refused.
    if (cur instanceof AggregateError && cur.errors.length > 0 && cur.errors.every((e) => requestReachedServer(e) === 'no')) return 'no';
    cur = (cur as { cause?: unknown }).cause;
  }
  return 'maybe';
}

/** The URL parsed once; an unusable one fails every request with a clear error (its text redacted by the caller). */
function parseTarget(url: string): URL | McpqError {
  try {
    const target = new URL(url);
    if (target.protocol === 'http:' || target.protocol === 'https:') return target;
    return new McpqError(ErrorCode.config_invalid, `the MCP server URL must be http: or https:, not ${target.protocol}`);
  } catch {
    return new McpqError(ErrorCode.config_invalid, `the MCP server URL is not a valid URL`);
  }
}

/** The `params._meta.traceparent` of a JSON-RPC request, when it is a string. */
function traceparentOfMessage(message: Record<string, unknown>): string | undefined {
  const params = message.params;
  const meta = isJsonObject(params) ? params._meta : undefined;
  const traceparent = isJsonObject(meta) ? meta.traceparent : undefined;
  return typeof traceparent === 'string' ? traceparent : undefined;
}

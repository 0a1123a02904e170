/**
 * The web console: one HTTP server that reads mcpq's state from NATS (KV
 * records, the events stream, consumer info, dead letters) and serves one
 * page at `/` plus the JSON and server-sent-event endpoints that page uses
 * (docs/console.md lists them). Cancel and Replay go through the same public
 * paths as the CLI.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { McpqClient, readDeadLetters, replayDeadLetter, scanRecords } from '@mcpq/client';
import {
  BearerTokens,
  CALL_ID_PATTERN,
  CallStatusSchema,
  CallStore,
  connectNats,
  createLogger,
  describeError,
  ErrorCode,
  isLoopbackHost,
  isMcpqError,
  mayAccessCall,
  McpqError,
  names as namesFor,
  publicStatus,
  UiConfigSchema,
  type Config,
  type Logger,
  type Names,
} from '@mcpq/shared';
import { findArguments, redact } from './arguments.js';
import { ConsoleAuth, type Identity } from './auth.js';
import { toCallView } from './call-view.js';
import { CallsFeed } from './calls-feed.js';
import { errorsPage } from './errors-page.js';
import { escapeHtml, openEventStream, readBody, SECURITY_HEADERS, sendError, sendJson, sendText } from './http.js';
import { joinerReports, serverViews, streamViews } from './system-view.js';

export interface ConsoleOptions {
  config: Config;
  /** A NATS connection to use (left open by close()); default: connect with `config.nats`. */
  nc?: NatsConnection;
  /** Port to listen on; default `config.ui.port` (0 picks a free one). */
  port?: number;
  /** Address to listen on; default `config.ui.host`. Without tokens only a loopback address is used. */
  host?: string;
  logger?: Logger;
  /** Calls the live list holds in memory (default 5000, newest first). */
  maxCalls?: number;
}

export interface RunningConsole {
  /** Where the page is, e.g. `http://127.0.0.1:4280/`. */
  readonly url: string;
  close(): Promise<void>;
}

const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));
const ERRORS_DOC = fileURLToPath(new URL('../../../docs/errors.md', import.meta.url));
const STATIC: Record<string, { file: string; type: string }> = {
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};
const MAX_BODY_BYTES = 8 * 1024;
const DEAD_LETTERS_SHOWN = 500;

export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const { config } = options;
  const logger = options.logger ?? createLogger('console', { level: config.log.level });
  const tokens = new BearerTokens(config.gateway.tokens);
  let host = options.host ?? config.ui.host;
  if (!tokens.required && !isLoopbackHost(host)) {
    logger.warn({ host }, 'no gateway.tokens configured: the console listens on 127.0.0.1 only');
    host = '127.0.0.1';
  }
  const nc = options.nc ?? (await connectNats(config.nats, { name: 'mcpq-console' }));
  const names = namesFor(config.prefix);
  const client = new McpqClient(nc, { prefix: config.prefix });
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const feed = new CallsFeed({
    nc,
    names,
    logger,
    scanLimit: config.ui.callsScanLimit,
    ...(options.maxCalls ? { maxCalls: options.maxCalls } : {}),
  });
  let records: KV;
  try {
    records = await new Kvm(nc).open(names.bucket);
    await feed.start();
  } catch (err) {
    if (!options.nc) await nc.close();
    throw new Error(`cannot read ${names.bucket} (has a submitter or joiner run yet, or 'mcpq provision'?): ${describeError(err)}`);
  }
  const app = new ConsoleApp({ config, names, nc, jsm, client, feed, records, auth: new ConsoleAuth(tokens), logger });
  const server = createServer((req, res) => {
    app.handle(req, res).catch((err: unknown) => {
      logger.error({ err: describeError(err), path: req.url?.split('?')[0] }, 'console request failed');
      if (!res.headersSent) sendError(res, isMcpqError(err, ErrorCode.invalid_request) ? 400 : 502, errorCode(err), describeError(err));
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? config.ui.port, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  logger.info({ event: 'listening', url, auth: tokens.required ? 'tokens' : 'loopback' }, 'console listening');
  return {
    url,
    async close() {
      feed.stop();
      await closeServer(server);
      if (!options.nc) await nc.close();
    },
  };
}

function errorCode(err: unknown): ErrorCode {
  return isMcpqError(err) ? err.code : ErrorCode.nats_error;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections(); // open event streams would hold close() forever
  });
}

interface AppDeps {
  config: Config;
  names: Names;
  nc: NatsConnection;
  jsm: JetStreamManager;
  client: McpqClient;
  feed: CallsFeed;
  /** The calls bucket. */
  records: KV;
  auth: ConsoleAuth;
  logger: Logger;
}

class ConsoleApp {
  private readonly pages: { index: string; login: string };
  /** What /api/calls pages through (record-scan.ts), made once rather than per request. */
  private readonly scanSource: { js: ReturnType<typeof jetstream>; kv: KV };

  constructor(private readonly d: AppDeps) {
    this.scanSource = { js: jetstream(d.nc), kv: d.records };
    this.pages = { index: readFileSync(`${PUBLIC_DIR}index.html`, 'utf8'), login: readFileSync(`${PUBLIC_DIR}login.html`, 'utf8') };
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://console');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const asset = STATIC[path];
    if (asset && method === 'GET') return sendText(res, 200, asset.type, readFileSync(`${PUBLIC_DIR}${asset.file}`));
    if (path === '/login' && method === 'POST') return this.login(req, res);

    const identity = this.d.auth.identify(req);
    if (!identity) {
      if (path === '/' && method === 'GET' && this.d.auth.required)
        return sendText(res, 200, 'text/html; charset=utf-8', this.loginPage(''));
      return sendError(
        res,
        401,
        ErrorCode.unauthorized,
        this.d.auth.required
          ? 'log in at / or send Authorization: Bearer <token>'
          : 'without gateway.tokens the console answers loopback hosts only',
      );
    }
    if (method === 'GET') return this.get(path, url.searchParams, identity, req, res);
    if (method === 'POST') {
      if (!this.d.auth.mayWrite(req, identity))
        return sendError(
          res,
          403,
          ErrorCode.forbidden,
          'a browser request must carry the X-Mcpq-Csrf token of its session, from the same origin',
        );
      return this.post(path, identity, res);
    }
    return sendError(res, 404, ErrorCode.not_found, `no ${method} ${path}`);
  }

  private async get(path: string, query: URLSearchParams, who: Identity, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const p = who.principal;
    if (path === '/') return sendText(res, 200, 'text/html; charset=utf-8', this.pages.index);
    if (path === '/docs/errors') return sendText(res, 200, 'text/html; charset=utf-8', errorsPage(readDoc(ERRORS_DOC)));
    if (path === '/api/me')
      return sendJson(res, 200, {
        tenant: p.tenant,
        readOnly: p.readOnly,
        admin: p.admin,
        csrf: who.csrf,
        loginRequired: this.d.auth.required,
        prefix: this.d.names.prefix,
      });
    if (path === '/api/calls') return sendJson(res, 200, await this.listCalls(who, query));
    if (path === '/api/calls/stream') return this.callsStream(who, req, res);
    if (path === '/api/dead-letters') return sendJson(res, 200, { deadLetters: await this.deadLetters(who) });
    if (path === '/api/servers') return sendJson(res, 200, { servers: await serverViews(this.d.nc, this.d.names, this.d.config) });
    if (path === '/api/queues') {
      const [streams, joiners] = await Promise.all([streamViews(this.d.jsm, this.d.names), joinerReports(this.d.nc, this.d.names)]);
      return sendJson(res, 200, { streams, joiners });
    }
    const call = /^\/api\/calls\/([^/]+)(\/events)?$/.exec(path);
    if (call) {
      const callId = this.accessibleCallId(call[1]!, who, res);
      if (!callId) return;
      return call[2] ? this.callEvents(callId, req, res) : this.callDetail(callId, res);
    }
    return sendError(res, 404, ErrorCode.not_found, `no page ${path}`);
  }

  private async post(path: string, who: Identity, res: ServerResponse): Promise<void> {
    if (path === '/logout') {
      this.d.auth.logout(who);
      return sendJson(res, 200, { loggedOut: true }, { 'set-cookie': ConsoleAuth.clearedCookie() });
    }
    const cancel = /^\/api\/calls\/([^/]+)\/cancel$/.exec(path);
    const replay = /^\/api\/dead-letters\/([^/]+)\/replay$/.exec(path);
    if (!cancel && !replay) return sendError(res, 404, ErrorCode.not_found, `no POST ${path}`);
    if (who.principal.readOnly)
      return sendError(res, 403, ErrorCode.forbidden, 'this token is read-only: it cannot cancel calls or replay dead letters');
    if (cancel) {
      const callId = this.accessibleCallId(cancel[1]!, who, res);
      if (!callId) return;
      const reply = await this.d.client.cancel(callId, { reason: `cancelled from the console (tenant ${who.principal.tenant})` });
      this.d.logger.info({ callId, tenant: who.principal.tenant, accepted: reply.accepted }, 'console: cancel requested');
      return sendJson(res, 200, reply);
    }
    const seq = Number(replay![1]);
    if (!Number.isInteger(seq) || seq < 1)
      return sendError(res, 400, ErrorCode.invalid_request, 'a dead letter is named by its sequence number');
    if (!who.principal.admin) {
      // A tenant replays only its own calls' letters: look the letter up among those it may see.
      const letter = (await readDeadLetters(this.d.client, undefined, DEAD_LETTERS_SHOWN)).find((l) => l.dlqSeq === seq);
      if (!letter || !this.mayAccessLetter(who, letter.callId)) return sendError(res, 404, ErrorCode.not_found, `no dead letter ${seq}`);
    }
    const out = await replayDeadLetter(this.d.client, seq);
    if (out.outcome === 'not_found') return sendError(res, 404, ErrorCode.not_found, `no dead letter ${seq}`);
    this.d.logger.info({ seq, tenant: who.principal.tenant, outcome: out.outcome }, 'console: dead letter replay');
    return sendJson(res, 200, out);
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams(await readBody(req, MAX_BODY_BYTES));
    const session = this.d.auth.required ? this.d.auth.login(form.get('token') ?? '') : undefined;
    if (!session) {
      const why = this.d.auth.required ? 'That token is not configured.' : 'This console has no tokens: open it from this machine.';
      return sendText(res, 401, 'text/html; charset=utf-8', this.loginPage(why));
    }
    res.writeHead(303, { ...SECURITY_HEADERS, location: '/', 'set-cookie': ConsoleAuth.sessionCookie(session) });
    res.end();
  }

  private loginPage(message: string): string {
    return this.pages.login.replace('<!--message-->', escapeHtml(message));
  }

  /**
   * One page of the calls `who` may see, newest first (by last update), read with the one bounded
   * scan (record-scan.ts in @mcpq/client): at most ui.callsScanLimit records a request, so a
   * filtered page may be short, even empty, and still carry a nextCursor.
   */
  private async listCalls(who: Identity, query: URLSearchParams) {
    const status = query.get('status') || undefined;
    if (status !== undefined && !CallStatusSchema.safeParse(status).success)
      throw new McpqError(ErrorCode.invalid_request, `status must be one of ${CallStatusSchema.options.join(', ')}`);
    const limitText = query.get('limit');
    // A page size is bounded as ui.callsPageSize is: the schema says how.
    const limit =
      limitText === null
        ? { success: true as const, data: this.d.config.ui.callsPageSize }
        : UiConfigSchema.shape.callsPageSize.safeParse(Number(limitText));
    if (!limit.success) throw new McpqError(ErrorCode.invalid_request, `limit: ${limit.error.issues[0]?.message ?? 'not a page size'}`);
    const server = query.get('server') || undefined;
    const tool = query.get('tool') || undefined;
    const q = query.get('q') || undefined;
    const page = await scanRecords(this.scanSource, {
      order: 'newest',
      cursor: query.get('cursor') ?? undefined,
      pageSize: limit.data,
      scanLimit: this.d.config.ui.callsScanLimit,
      match: (r) =>
        mayAccessCall(who.principal, r.callId) &&
        (!status || publicStatus(r) === status) &&
        (!server || r.server === server) &&
        (!tool || r.tool === tool) &&
        (!q || r.callId.includes(q)),
    });
    const calls = page.records.map(({ record }) => toCallView(record, this.d.feed.get(record.callId)?.progress));
    return { calls, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}), scanned: page.scanned };
  }

  private async callsStream(who: Identity, req: IncomingMessage, res: ServerResponse): Promise<void> {
    await this.d.feed.whenReady();
    const stream = openEventStream(req, res);
    // The calls held, and where the older ones start (the page's "older calls" reads /api/calls from there).
    stream.send('snapshot', {
      calls: this.d.feed.snapshot().filter((c) => mayAccessCall(who.principal, c.callId)),
      ...(this.d.feed.olderCursor ? { nextCursor: this.d.feed.olderCursor } : {}),
    });
    const unsubscribe = this.d.feed.subscribe((change) => {
      const callId = change.type === 'call' ? change.call.callId : change.callId;
      if (mayAccessCall(who.principal, callId)) stream.send(change.type, change.type === 'call' ? change.call : { callId });
    });
    await stream.closed;
    unsubscribe();
  }

  private async callDetail(callId: string, res: ServerResponse): Promise<void> {
    const found = await new CallStore(this.d.records).get(callId);
    if (!found)
      return sendError(res, 404, ErrorCode.not_found, `no call ${callId} (a queued call has no record until a submitter takes it)`);
    const rec = found.value;
    const args = await findArguments(this.d.jsm, this.d.names, callId, rec.server);
    return sendJson(res, 200, {
      call: toCallView(rec, this.d.feed.get(callId)?.progress),
      result: rec.result,
      arguments: args,
    });
  }

  private async callEvents(callId: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const stream = openEventStream(req, res);
    try {
      for await (const e of this.d.client.watch(callId, { signal: stream.signal })) stream.send('call-event', e);
      stream.send('end', { callId });
    } catch (err) {
      if (!stream.signal.aborted) stream.send('failure', { message: describeError(err) });
    } finally {
      stream.close();
    }
  }

  private async deadLetters(who: Identity) {
    const letters = await readDeadLetters(this.d.client, undefined, DEAD_LETTERS_SHOWN);
    return letters
      .filter((l) => this.mayAccessLetter(who, l.callId))
      .map(({ headers: _h, payload, ...l }) => ({ ...l, payload: payload !== undefined ? redactPayload(payload) : undefined }));
  }

  private mayAccessLetter(who: Identity, callId: string | undefined): boolean {
    return who.principal.admin || (callId !== undefined && mayAccessCall(who.principal, callId));
  }

  /** The call id from a path, or undefined after answering 400/404 (another tenant's call is "not found"). */
  private accessibleCallId(raw: string, who: Identity, res: ServerResponse): string | undefined {
    const callId = raw; // a valid id needs no decoding; anything else is refused below
    if (!CALL_ID_PATTERN.test(callId)) {
      sendError(res, 400, ErrorCode.invalid_request, 'a call id is 1-64 characters from [A-Za-z0-9_-]');
      return undefined;
    }
    if (!mayAccessCall(who.principal, callId)) {
      sendError(res, 404, ErrorCode.not_found, `no call ${callId}`);
      return undefined;
    }
    return callId;
  }
}

/** A dead letter's payload as shown: a CallRequest's arguments redacted; anything else as it is (it was not a call). */
function redactPayload(payload: string): string {
  try {
    const json = JSON.parse(payload) as unknown;
    if (json && typeof json === 'object' && !Array.isArray(json)) return JSON.stringify(redact(json as Record<string, unknown>), null, 2);
  } catch {
    // not JSON
  }
  return payload;
}

function readDoc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

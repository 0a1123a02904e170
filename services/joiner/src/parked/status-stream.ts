/**
 * One session's task-status notifications: the standalone GET stream of a
 * 2025-11-25 session, where a server sends `notifications/tasks/status` for
 * the tasks of that session (the TypeScript SDK v1 does, from its request
 * task store, on every status change; it allows one such stream per session
 * and answers a second GET with 409). The task watcher holds one per session
 * it watches tasks of, never one per call.
 *
 * What the server sends is untrusted: an event larger than
 * limits.maxResponseBytes ends the stream (re-opened after a backoff), an
 * event that is not a well-formed task status is counted and dropped, and a
 * status only ever *wakes* a call: the follow path's tasks/get decides what
 * it means. The stream is held over node:http (its own connection, http-transport.ts), re-opened after
 * a drop with a doubling, capped backoff; every (re)open is reported so the
 * watcher re-learns what the stream may have missed with one sweep.
 */
import type { Readable } from 'node:stream';
import {
  describeError,
  isMcpqError,
  toMcpqError,
  ErrorCode,
  readSse,
  type Logger,
  type McpHttpClient,
  type McpSession,
  isJsonObject,
} from '@mcpq/shared';

/** First wait before a dropped or refused-for-now stream is opened again; doubles per failure in a row. */
const REOPEN_BASE_MS = 500;
/** Longest wait between two opens (also the wait after a 409: another client holds the session's stream). */
const REOPEN_MAX_MS = 30_000;

export type StreamState = 'opening' | 'live' | 'down' | 'refused' | 'closed';

export interface StatusStreamDeps {
  server: string;
  client: McpHttpClient;
  session: McpSession;
  logger: Logger;
  /** The stream is open: notifications flow from now on, what came before must be learned once. */
  onOpen(): void;
  /** A well-formed task status notification (only its shape was checked). */
  onStatus(taskId: string, status: string, message: string | undefined): void;
  /** An event that is not a well-formed task status notification (or another notification: ignored, not counted). */
  onMalformed(): void;
  /**
   * The stream dropped (it re-opens by itself), or was refused for good: `session` when the server no
   * longer knows the session (404), `server` for any other non-retryable answer (405: no GET streams, 401, ...).
   */
  onDown(refused: 'session' | 'server' | undefined): void;
}

export class TaskStatusStream {
  private current: StreamState = 'opening';
  private readonly abort = new AbortController();
  /** Opens in a row that ended without a single well-formed notification. */
  private failures = 0;
  private gone = false;

  constructor(private readonly deps: StatusStreamDeps) {
    void this.run();
  }

  get state(): StreamState {
    return this.current;
  }

  /** Refused because the server no longer knows the session (404): never opened again. */
  get sessionGone(): boolean {
    return this.gone;
  }

  close(): void {
    this.current = 'closed';
    this.abort.abort();
  }

  /** Opens, reads until the stream ends, waits, opens again; until closed or refused. */
  private async run(): Promise<void> {
    const { client, session, server, logger } = this.deps;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      this.current = 'opening';
      let heard = false;
      let refused = false;
      let sessionGone = false;
      let opened = false;
      let retryAfterMs: number | undefined;
      try {
        const body: Readable = await client.resume(session, undefined, { signal });
        opened = true;
        if (signal.aborted) {
          body.destroy();
          return;
        }
        this.current = 'live';
        this.deps.onOpen();
        for await (const event of readSse(body, { maxEventChars: client.maxResponseBytes, signal })) {
          if (this.take(event.data)) heard = true;
        }
      } catch (err) {
        if (signal.aborted) return;
        const error = toMcpqError(err, ErrorCode.server_unreachable);
        // Only the server's answer to the GET can refuse the stream (404: the session is gone, 405: no
        // GET streams, ...); whatever ends an open stream (a reset, an oversized event) is a drop.
        refused = !opened && isMcpqError(err) && !error.retryable;
        sessionGone = error.code === ErrorCode.session_lost;
        retryAfterMs = error.retryAfterMs;
        logger.warn(
          { server, sessionId: session.sessionId, err: describeError(error), refused },
          refused
            ? 'task watcher: the server refused the task notification stream; polling only for this session'
            : 'task watcher: task notification stream failed; polling meanwhile, opening it again',
        );
      }
      if (signal.aborted) return;
      this.current = refused ? 'refused' : 'down';
      this.gone = refused && sessionGone;
      this.deps.onDown(refused ? (sessionGone ? 'session' : 'server') : undefined);
      if (refused) return;
      this.failures = heard ? 0 : this.failures + 1;
      const wait = Math.max(retryAfterMs ?? 0, Math.min(REOPEN_MAX_MS, REOPEN_BASE_MS * 2 ** this.failures));
      await new Promise<void>((resolve) => {
        // The abort listener goes with the wait: a stream that drops again and again must not pile them up.
        const onAbort = (): void => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, wait);
        timer.unref();
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  /** One event's data: a task status is handed on; anything malformed is counted. True for a well-formed status. */
  private take(data: string): boolean {
    if (data === '') return false; // a priming event or keep-alive
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch {
      this.deps.onMalformed();
      return false;
    }
    if (!isJsonObject(message) || typeof message.method !== 'string') {
      this.deps.onMalformed();
      return false;
    }
    // Other notifications (list changes, logging) are the server's right: not ours to count.
    if (message.method !== 'notifications/tasks/status') return false;
    const p = message.params;
    if (!isJsonObject(p) || typeof p.taskId !== 'string' || typeof p.status !== 'string') {
      this.deps.onMalformed();
      return false;
    }
    const statusMessage = typeof p.statusMessage === 'string' ? p.statusMessage : undefined;
    this.deps.onStatus(p.taskId, p.status, statusMessage);
    return true;
  }
}

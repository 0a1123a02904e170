/**
 * Who a console request acts for, and whether it may change anything.
 *
 * - Tokens configured (`gateway.tokens`): a script sends `Authorization:
 *   Bearer <token>`; a browser, which cannot put that header on an
 *   EventSource, posts the token once to `/login` and gets an HttpOnly,
 *   SameSite=Strict session cookie instead.
 * - No tokens: loopback only; every request acts as the local operator, and
 *   the Host header must name a loopback address (no DNS rebinding).
 * - A state-changing request (cancel, replay, logout) that rides on a cookie
 *   or on the loopback rule must also carry the session's CSRF token in
 *   `X-Mcpq-Csrf` and, when the browser sends one, a same-origin `Origin`.
 *   A bearer header needs neither: browsers never attach it on their own.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isLoopbackHost, type BearerTokens, type Principal } from '@mcpq/shared';

export const SESSION_COOKIE = 'mcpq_console';
export const CSRF_HEADER = 'x-mcpq-csrf';

/** How long a browser session lasts after login. */
const SESSION_TTL_MS = 12 * 3600 * 1000;
/** Sessions kept at once; the oldest is dropped beyond this (a flood of logins cannot fill memory). */
const MAX_SESSIONS = 10_000;

export interface Identity {
  principal: Principal;
  /** How the request proved who it is. */
  via: 'bearer' | 'cookie' | 'local';
  /** The CSRF token a cookie or local request must echo on writes (none for bearer). */
  csrf?: string;
  sessionId?: string;
}

interface Session {
  principal: Principal;
  csrf: string;
  expires: number;
}

export class ConsoleAuth {
  private readonly sessions = new Map<string, Session>();
  /** Without tokens there are no sessions: one CSRF token for the process, read by the page from /api/me. */
  private readonly localCsrf = randomToken();

  constructor(private readonly tokens: BearerTokens) {}

  get required(): boolean {
    return this.tokens.required;
  }

  /** The request's identity, or undefined when it must log in (or names a non-loopback host without tokens). */
  identify(req: IncomingMessage): Identity | undefined {
    if (!this.tokens.required) {
      return hostIsLoopback(req.headers.host)
        ? { principal: this.tokens.authenticate(undefined)!, via: 'local', csrf: this.localCsrf }
        : undefined;
    }
    if (req.headers.authorization !== undefined) {
      const principal = this.tokens.authenticate(req.headers.authorization);
      return principal ? { principal, via: 'bearer' } : undefined;
    }
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
    const session = id ? this.sessions.get(id) : undefined;
    if (!id || !session) return undefined;
    if (session.expires <= Date.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return { principal: session.principal, via: 'cookie', csrf: session.csrf, sessionId: id };
  }

  /** Exchanges a token typed into the login form for a session id; undefined when the token is not configured. */
  login(token: string): string | undefined {
    const principal = this.tokens.authenticate(`Bearer ${token.trim()}`);
    if (!principal || !this.tokens.required) return undefined;
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomToken();
    this.sessions.set(id, { principal, csrf: randomToken(), expires: Date.now() + SESSION_TTL_MS });
    return id;
  }

  logout(identity: Identity): void {
    if (identity.sessionId) this.sessions.delete(identity.sessionId);
  }

  /** Whether a state-changing request carries what proves it came from the console's own page. */
  mayWrite(req: IncomingMessage, identity: Identity): boolean {
    if (identity.via === 'bearer') return true;
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}` && origin !== `https://${req.headers.host}`) return false;
    const given = req.headers[CSRF_HEADER];
    return typeof given === 'string' && identity.csrf !== undefined && sameSecret(given, identity.csrf);
  }

  /** The Set-Cookie value for a new session (HttpOnly: no script reads it; SameSite=Strict: no other site sends it). */
  static sessionCookie(id: string): string {
    return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL_MS / 1000}`;
  }

  static clearedCookie(): string {
    return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }
}

function randomToken(): string {
  return randomBytes(24).toString('base64url');
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** `127.0.0.1:4280`, `localhost`, `[::1]:4280` -> loopback. A missing Host is refused. */
function hostIsLoopback(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return isLoopbackHost(name);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Keeping secrets out of everything mcpq writes. A configured server URL may
 * carry credentials (`https://user:pass@host/mcp`, `?api_key=...`) and its
 * headers carry tokens; an error message, a status event, a record's
 * `lastError`, a result or a log line must show neither. `redactUrl` gives
 * the printable form of a URL; a `Redactor` removes known secret values from
 * any text a server or the network stack produced (which may echo them).
 */
import { McpqError } from '@mcpq/contract';

export const REDACTED = '[REDACTED]';

/** The URL with its user info and every query value replaced by [REDACTED], and no fragment. */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '[unparseable URL]';
  }
  const creds = u.username || u.password ? `${REDACTED}@` : '';
  const query = [...u.searchParams.keys()].map((k) => `${encodeURIComponent(k)}=${REDACTED}`).join('&');
  return `${u.protocol}//${creds}${u.host}${u.pathname}${query ? `?${query}` : ''}`;
}

/** Values shorter than this are not scrubbed from text (they would match everywhere); they never go in a message anyway. */
const MIN_SECRET_LENGTH = 4;

/** Removes known secret values (and the raw URL that holds some) from texts and error payloads. */
export class Redactor {
  private readonly secrets: string[];

  /**
   * @param url the configured URL: its password, username, query values and the URL itself are secrets
   * @param headerValues configured header values (tokens)
   */
  constructor(url: string, headerValues: Iterable<string>) {
    // The raw URL is a secret only when it holds some (user info, query values): its printable
    // form (redactUrl) is what messages name the server by, and scrubbing a URL that holds no
    // secret would leave "POST [REDACTED]: …" where "POST https://host/mcp: …" helps an operator.
    const found = new Set<string>(redactUrl(url) === url ? [] : [url]);
    try {
      const u = new URL(url);
      for (const v of [u.username, u.password, decodeURIComponent(u.username), decodeURIComponent(u.password)]) found.add(v);
      for (const v of u.searchParams.values()) found.add(v);
      found.add(u.search);
    } catch {
      // an invalid URL is refused by the config schema; nothing more to find
    }
    for (const v of headerValues) {
      found.add(v);
      // `Bearer <token>`: the token alone may be echoed too.
      const token = v.replace(/^\s*\S+\s+/, '');
      if (token !== v) found.add(token);
    }
    // Longest first, so a value that contains another is replaced whole.
    this.secrets = [...found].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  }

  get empty(): boolean {
    return this.secrets.length === 0;
  }

  text(s: string): string {
    let out = s;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  }

  /** Scrubs every string inside a JSON-like value (bounded depth; deeper parts are dropped). */
  value(v: unknown, depth = 0): unknown {
    if (typeof v === 'string') return this.text(v);
    if (typeof v !== 'object' || v === null) return v;
    if (depth > 16) return REDACTED;
    if (Array.isArray(v)) return v.map((x) => this.value(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[this.text(k)] = this.value(x, depth + 1);
    return out;
  }

  /**
   * An McpqError with message, data and cause chain scrubbed. The causes are
   * rebuilt as plain Errors keeping their `code` (which decides whether a
   * request reached the server), so nothing that held a secret survives.
   */
  error(err: McpqError): McpqError {
    if (this.empty) return err;
    const scrubbed = new McpqError(err.code, this.text(err.message), {
      ...(err.data !== undefined ? { data: this.value(err.data) } : {}),
      retryable: err.retryable,
      ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
      ...(err.cause !== undefined ? { cause: this.cause(err.cause, 0) } : {}),
    });
    return scrubbed;
  }

  private cause(c: unknown, depth: number): unknown {
    if (depth > 4 || c === undefined || c === null) return undefined;
    if (c instanceof McpqError) return this.error(c);
    if (!(c instanceof Error)) return this.text(String(c));
    const copy = new Error(this.text(c.message), c.cause !== undefined ? { cause: this.cause(c.cause, depth + 1) } : undefined);
    copy.name = c.name;
    const code = (c as { code?: unknown }).code;
    if (code !== undefined) (copy as { code?: unknown }).code = code;
    return copy;
  }
}

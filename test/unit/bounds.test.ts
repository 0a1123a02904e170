/**
 * The pure bounds every stored or sent value goes through: depth and size
 * measured as serialized, errors and dead letters cut to fit, secrets
 * redacted, waits capped.
 */
import { describe, expect, it } from 'vitest';
import {
  boundWireError,
  CallRecordSchema,
  capDelay,
  fitDeadLetter,
  jsonDepth,
  McpqError,
  measureJson,
  recordableMs,
  Redactor,
  redactUrl,
  TICK,
  truncateForJson,
  withTicks,
  type DeadLetter,
} from '@mcpq/shared';

const nested = (levels: number) => JSON.parse('{"a":'.repeat(levels) + '1' + '}'.repeat(levels)) as unknown;

describe('measuring JSON', () => {
  it('counts depth without recursion, even 100,000 levels deep', () => {
    expect(jsonDepth(1)).toBe(0);
    expect(jsonDepth({})).toBe(1);
    expect(jsonDepth({ a: [{ b: 1 }] })).toBe(3);
    expect(jsonDepth(nested(100_000))).toBe(100_000);
    expect(jsonDepth(nested(100_000), 64)).toBe(65);
  });

  it('refuses too deep a value instead of overflowing the stack', () => {
    expect(measureJson(nested(100_000), 64)).toEqual({ ok: false, reason: 'too_deep', depth: 65 });
    expect(measureJson(nested(64), 64)).toMatchObject({ ok: true });
  });

  it('measures bytes after escaping: a control character counts six bytes', () => {
    const m = measureJson({ t: '\u0001'.repeat(100) });
    expect(m).toMatchObject({ ok: true, bytes: 8 + 600 });
  });

  it('cuts a text to fit as a JSON string, counting escapes, never splitting a surrogate pair', () => {
    const cut = truncateForJson('\u0001'.repeat(1000), 602);
    expect(cut).toBe('\u0001'.repeat(100));
    const emoji = truncateForJson('😀😀😀', 2 + 4 + 3);
    expect(emoji).toBe('😀');
  });
});

describe('bounding errors', () => {
  it('keeps a small error as it is', () => {
    const e = { code: 'upstream_error', message: 'nope', data: { jsonrpcCode: -32000 } };
    expect(boundWireError(e, 1024)).toBe(e);
  });

  it('cuts an error of megabytes to the limit, keeping its code and small data fields', () => {
    const e = { code: 'upstream_error', message: 'x'.repeat(2_000_000), data: { jsonrpcCode: -32000, data: 'y'.repeat(2_000_000) } };
    const b = boundWireError(e, 16 * 1024);
    expect(Buffer.byteLength(JSON.stringify(b))).toBeLessThanOrEqual(16 * 1024);
    expect(b.code).toBe('upstream_error');
    expect(b.message).toMatch(/cut to fit/);
    expect(b.data).toMatchObject({ truncated: true, jsonrpcCode: -32000, omitted: ['data'] });
  });

  it('bounds an error whose data is nested past any stack', () => {
    const b = boundWireError({ code: 'upstream_error', message: 'deep', data: nested(100_000) }, 4096);
    expect(b.data).toMatchObject({ truncated: true, reason: 'nested too deep' });
  });
});

describe('dead letters fit one NATS message', () => {
  const letter = (payload: string): DeadLetter => ({
    reason: 'submit',
    code: 'invalid_request',
    message: 'bad',
    subject: 'mcpq.submit.x',
    deliveries: 1,
    at: new Date().toISOString(),
    payload,
    headers: { 'Nats-Msg-Id': ['x'.repeat(100_000)] },
  });

  it('keeps a small letter whole', () => {
    const l = { ...letter('{}'), headers: {} };
    expect(fitDeadLetter(l, 1024 * 1024)).toBe(l);
  });

  it('cuts a payload that grows past the limit when escaped, and says so', () => {
    const raw = '"'.repeat(900_000); // 1.8 MB once escaped
    const fit = fitDeadLetter(letter(raw), 1024 * 1024);
    expect(Buffer.byteLength(JSON.stringify(fit))).toBeLessThanOrEqual(1024 * 1024 - 1024);
    expect(fit.payloadTruncated).toBe(true);
    expect(fit.payloadBytes).toBe(900_000);
    expect(raw.startsWith(fit.payload!)).toBe(true);
    expect(fit.headers!['Nats-Msg-Id']![0]!.length).toBeLessThan(1100);
  });
});

describe('secrets', () => {
  it('redacts user info and query values of a URL', () => {
    expect(redactUrl('https://bob:pw@host:8443/mcp?api_key=s3cret&v=1#frag')).toBe(
      'https://[REDACTED]@host:8443/mcp?api_key=[REDACTED]&v=[REDACTED]',
    );
    expect(redactUrl('http://host/mcp')).toBe('http://host/mcp');
  });

  it('scrubs configured secrets from messages, data and causes, keeping the codes', () => {
    const r = new Redactor('http://host/mcp?api_key=k-123456', ['Bearer tok-abcdef']);
    const cause = Object.assign(new Error('connect to http://host/mcp?api_key=k-123456 failed'), { code: 'ECONNREFUSED' });
    const err = new McpqError('server_unreachable', 'got tok-abcdef back', { data: { body: 'key k-123456' }, cause, retryable: true });
    const clean = r.error(err);
    const all = JSON.stringify([clean.message, clean.data, (clean.cause as Error).message]);
    expect(all).not.toMatch(/k-123456|tok-abcdef/);
    expect((clean.cause as { code?: string }).code).toBe('ECONNREFUSED');
    expect(clean.retryable).toBe(true);
  });

  it('leaves a URL that holds no secret readable in messages, and scrubs one that does', () => {
    const plain = new Redactor('https://mcp.example.com:8443/mcp', []);
    expect(plain.text('POST https://mcp.example.com:8443/mcp: TLS handshake failed')).toBe(
      'POST https://mcp.example.com:8443/mcp: TLS handshake failed',
    );
    const secret = new Redactor('https://mcp.example.com/mcp?k=ab', []); // a query value too short to scrub alone
    expect(secret.text('GET https://mcp.example.com/mcp?k=ab failed')).toBe('GET [REDACTED] failed');
    expect(secret.text(`POST ${redactUrl('https://mcp.example.com/mcp?k=ab')}: refused`)).toBe(
      'POST https://mcp.example.com/mcp?k=[REDACTED]: refused',
    );
  });
});

describe('waits a server asks for', () => {
  it('are capped by the maximum and by the deadline', () => {
    expect(capDelay(86_400_000, { maxMs: 60_000 })).toBe(60_000);
    expect(capDelay(5_000, { maxMs: 60_000, deadline: 1_000 + 2_000, now: 1_000 })).toBe(2_000);
    expect(capDelay(-5, { maxMs: 60_000 })).toBe(0);
    expect(capDelay(Number.NaN, { maxMs: 10 })).toBe(10);
  });

  it('are kept in a call record as whole ms within [0, 2^53): past it the largest safe integer, negative ones not at all', () => {
    expect(recordableMs(1_500.4)).toBe(1_500);
    expect(recordableMs(1e20)).toBe(Number.MAX_SAFE_INTEGER);
    expect(recordableMs(Number.POSITIVE_INFINITY)).toBe(Number.MAX_SAFE_INTEGER);
    expect(recordableMs(-1)).toBeUndefined();
    expect(recordableMs(Number.NaN)).toBeUndefined();
    expect(recordableMs(undefined)).toBeUndefined();
    for (const ms of [1_500.4, 1e20, Number.POSITIVE_INFINITY]) {
      expect(CallRecordSchema.shape.pollIntervalMs.safeParse(recordableMs(ms)).success).toBe(true);
      expect(CallRecordSchema.shape.pollIntervalMs.safeParse(ms).success).toBe(false);
    }
  });
});

describe('a quiet stream still ticks', () => {
  it('yields TICK while the source is silent, then its items, and ends with it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* silentUntilReleased() {
      await gate;
      yield 'a';
      yield 'b';
    }
    const seen: unknown[] = [];
    for await (const x of withTicks(silentUntilReleased(), 10)) {
      seen.push(x);
      if (x === TICK) release(); // the source speaks only after a tick was seen
    }
    expect(seen[0]).toBe(TICK);
    expect(seen.filter((x) => x !== TICK)).toEqual(['a', 'b']);
  });
});

/**
 * The console's endpoints without a browser: who may read and act (tokens,
 * tenants, read-only, CSRF, loopback Host), the arguments it shows (and
 * redacts), and what joiners report. Real nats-server, MCP server, submitter
 * and joiner.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsole, type RunningConsole } from '@mcpq/console';
import { loadConfig, newTenantCallId } from '@mcpq/shared';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A raw HTTP request (fetch would not let the test set Host or Origin). */
function call(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text, json: () => JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const TOKENS = {
  ro: 'ro-token-http-test-0123456789',
  op: 'op-token-http-test-0123456789',
  acme: 'acme-token-http-test-012345',
  zeta: 'zeta-token-http-test-0123456',
};

describe('console endpoints', () => {
  let h: Harness;
  let local: RunningConsole;
  let guarded: RunningConsole;

  beforeAll(async () => {
    h = await createHarness({ servers: { demo: {}, held: { mode: 'hold' } } });
    await h.start('submitter');
    await h.start('joiner');
    local = await startConsole({ config: h.config, port: 0 });
    const env = { T_RO: TOKENS.ro, T_OP: TOKENS.op, T_ACME: TOKENS.acme, T_ZETA: TOKENS.zeta };
    Object.assign(process.env, env);
    const config = loadConfig({
      config: {
        ...h.config,
        gateway: {
          tokens: [
            { token: { env: 'T_RO' }, readOnly: true, admin: true },
            { token: { env: 'T_OP' }, admin: true },
            { token: { env: 'T_ACME' }, tenant: 'acme' },
            { token: { env: 'T_ZETA' }, tenant: 'zeta' },
          ],
        },
      },
      env: process.env,
    });
    guarded = await startConsole({ config, port: 0 });
  });

  afterAll(async () => {
    await local?.close();
    await guarded?.close();
    await h?.close();
  });

  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  it('without tokens, a request naming a non-loopback Host is refused (no DNS rebinding)', async () => {
    const port = new URL(local.url).port;
    const refused = await call(local.url, 'GET', '/api/me', { host: `evil.example:${port}` });
    expect(refused.status).toBe(401);
    expect(refused.json().error.code).toBe('unauthorized');
    const ok = await call(local.url, 'GET', '/api/me', { host: `localhost:${port}` });
    expect(ok.status).toBe(200);
    expect(ok.json()).toMatchObject({ admin: true, readOnly: false });
  });

  it('a state-changing request without the CSRF token, or from another origin, is refused', async () => {
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 30_000, steps: 30 });
    const me = (await call(local.url, 'GET', '/api/me')).json() as { csrf: string };
    const noToken = await call(local.url, 'POST', `/api/calls/${callId}/cancel`);
    expect(noToken.status).toBe(403);
    expect(noToken.json().error.code).toBe('forbidden');
    const otherOrigin = await call(local.url, 'POST', `/api/calls/${callId}/cancel`, {
      'x-mcpq-csrf': me.csrf,
      origin: 'http://evil.example',
    });
    expect(otherOrigin.status).toBe(403);
    expect((await h.client.status(callId))?.status).not.toBe('cancelled');
    const ok = await call(local.url, 'POST', `/api/calls/${callId}/cancel`, {
      'x-mcpq-csrf': me.csrf,
      origin: local.url.replace(/\/$/, ''),
    });
    expect(ok.status).toBe(200);
    expect(ok.json()).toMatchObject({ callId, accepted: true });
    expect((await h.client.result(callId, { timeoutMs: 30_000 })).status).toBe('cancelled');
  });

  it('with tokens, no token or a wrong one gets 401, and the login answers with an HttpOnly SameSite=Strict cookie', async () => {
    expect((await call(guarded.url, 'GET', '/api/calls')).status).toBe(401);
    expect((await call(guarded.url, 'GET', '/api/calls', bearer('nope'))).status).toBe(401);
    const page = await call(guarded.url, 'GET', '/');
    expect(page.body).toContain('name="token"');
    const bad = await call(guarded.url, 'POST', '/login', { 'content-type': 'application/x-www-form-urlencoded' }, 'token=nope');
    expect(bad.status).toBe(401);
    const good = await call(guarded.url, 'POST', '/login', { 'content-type': 'application/x-www-form-urlencoded' }, `token=${TOKENS.op}`);
    expect(good.status).toBe(303);
    const cookie = String(good.headers['set-cookie']);
    expect(cookie).toMatch(/^mcpq_console=[A-Za-z0-9_-]+; HttpOnly; SameSite=Strict; Path=\//);
    const me = await call(guarded.url, 'GET', '/api/me', { cookie: cookie.split(';')[0]! });
    expect(me.json()).toMatchObject({ admin: true, readOnly: false, loginRequired: true });
    expect(me.json().csrf).toEqual(expect.any(String));
  });

  it('a read-only token may look at calls but not cancel them or replay dead letters', async () => {
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 30_000, steps: 30 });
    await waitFor('the call running', async () => (await h.client.status(callId))?.status === 'running');
    expect((await call(guarded.url, 'GET', `/api/calls/${callId}`, bearer(TOKENS.ro))).status).toBe(200);
    const cancel = await call(guarded.url, 'POST', `/api/calls/${callId}/cancel`, bearer(TOKENS.ro));
    expect(cancel.status).toBe(403);
    expect(cancel.json().error).toMatchObject({ code: 'forbidden', message: expect.stringContaining('read-only') });
    const replay = await call(guarded.url, 'POST', '/api/dead-letters/1/replay', bearer(TOKENS.ro));
    expect(replay.status).toBe(403);
    expect((await h.client.status(callId))?.status).toBe('running');
    await h.client.cancel(callId);
  });

  it("a tenant's token sees only its tenant's calls; another tenant's call is not found", async () => {
    const mine = newTenantCallId('acme');
    const theirs = newTenantCallId('zeta');
    await h.client.submit('demo', 'echo', { text: 'a' }, { callId: mine });
    await h.client.submit('demo', 'echo', { text: 'z' }, { callId: theirs });
    await h.client.result(mine, { timeoutMs: 30_000 });
    await h.client.result(theirs, { timeoutMs: 30_000 });
    const listed = await waitFor('both calls listed for the operator', async () => {
      const all = (await call(guarded.url, 'GET', '/api/calls', bearer(TOKENS.op))).json().calls as Array<{ callId: string }>;
      return all.some((c) => c.callId === mine) && all.some((c) => c.callId === theirs) ? all : undefined;
    });
    expect(listed.length).toBeGreaterThanOrEqual(2);
    const acme = (await call(guarded.url, 'GET', '/api/calls', bearer(TOKENS.acme))).json().calls as Array<{ callId: string }>;
    expect(acme.map((c) => c.callId)).toEqual([mine]);
    expect((await call(guarded.url, 'GET', `/api/calls/${theirs}`, bearer(TOKENS.acme))).status).toBe(404);
    expect((await call(guarded.url, 'POST', `/api/calls/${theirs}/cancel`, bearer(TOKENS.acme))).status).toBe(404);
    expect((await call(guarded.url, 'GET', `/api/calls/${mine}`, bearer(TOKENS.acme))).status).toBe(200);
  });

  it('a malformed call id is refused with invalid_request', async () => {
    const bad = await call(local.url, 'GET', '/api/calls/not.a.valid.id');
    expect(bad.status).toBe(400);
    expect(bad.json().error.code).toBe('invalid_request');
  });

  it("a running hold-mode call's arguments are shown, with secret-named values redacted", async () => {
    const { callId } = await h.client.submit('held', 'slow', { durationMs: 30_000, steps: 30, label: 'visible', tag: 'x' });
    await waitFor('the call running', async () => (await h.client.status(callId))?.status === 'running');
    const detail = (await call(local.url, 'GET', `/api/calls/${callId}`)).json();
    expect(detail.arguments).toMatchObject({ available: true, arguments: { label: 'visible', durationMs: 30_000 } });
    expect(detail.arguments.source).toContain('join message');
    await h.client.cancel(callId);
    // Redaction itself, on a request shaped like one carrying secrets:
    const { redact } = await import('@mcpq/console');
    expect(redact({ q: 'x', token: 's1', nested: { Authorization: 's2', headers: { a: 's3' }, list: [{ password: 's4' }] } })).toEqual({
      q: 'x',
      token: '[redacted]',
      nested: { Authorization: '[redacted]', headers: '[redacted]', list: [{ password: '[redacted]' }] },
    });
  });

  it('every running joiner reports its held calls through the queues endpoint', async () => {
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 30_000, steps: 30 });
    await waitFor('the call running', async () => (await h.client.status(callId))?.status === 'running');
    const queues = (await call(local.url, 'GET', '/api/queues')).json() as {
      joiners: Array<{ id: string; held: number; parked: number }>;
      streams: Array<{ stream: string; consumers: Array<{ name: string }> }>;
    };
    expect(queues.joiners).toHaveLength(1);
    expect(queues.joiners[0]!.held).toBeGreaterThanOrEqual(1);
    expect(queues.streams.find((s) => s.stream === h.names.streams.join)?.consumers.map((c) => c.name)).toEqual(['joiner']);
    await h.client.cancel(callId);
  });
});

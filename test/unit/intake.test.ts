import { describe, expect, it } from 'vitest';
import { loadConfig, names } from '@mcpq/shared';
import { parseSubmission } from '@mcpq/submitter';

const n = names('mcpq');
const config = loadConfig({ config: { servers: { demo: { url: 'http://127.0.0.1:1/mcp' } }, limits: { maxArgumentsBytes: 64 } }, env: {} });
const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

describe('parseSubmission', () => {
  it('accepts a valid request and takes the server from the subject', () => {
    const r = parseSubmission('mcpq.submit.demo', enc({ callId: 'a1', tool: 'echo', arguments: { text: 'hi' } }), n, config, 'a1');
    expect(r).toEqual({ ok: true, server: 'demo', request: { callId: 'a1', tool: 'echo', arguments: { text: 'hi' } } });
  });

  it.each([
    ['not JSON', 'nope', /not JSON/],
    ['not UTF-8', new Uint8Array([0xc3, 0x28]), /not UTF-8/],
    ['a JSON array', [1, 2], /invalid CallRequest/],
    ['a missing tool', { callId: 'a1' }, /tool/],
    ['an empty tool', { callId: 'a1', tool: '' }, /tool must not be empty/],
    ['arguments that are not an object', { callId: 'a1', tool: 't', arguments: [1] }, /arguments/],
    ['a negative timeout', { callId: 'a1', tool: 't', timeoutMs: -5 }, /timeoutMs/],
    ['a non-boolean idempotent', { callId: 'a1', tool: 't', idempotent: 'yes' }, /idempotent/],
    ['an unknown field', { callId: 'a1', tool: 't', argumnets: {} }, /argumnets/],
    ['a callId with a dot', { callId: 'a.b', tool: 't' }, /callId/],
    ['a callId that is too long', { callId: 'x'.repeat(65), tool: 't' }, /callId/],
    ['a reserved meta key', { callId: 'a1', tool: 't', meta: { 'io.mcpq/callId': 'x' } }, /reserved/],
  ])('rejects %s with invalid_request', (_what, payload, message) => {
    const r = parseSubmission('mcpq.submit.demo', payload instanceof Uint8Array ? payload : enc(payload), n, config, 'a1');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe('invalid_request');
      expect(r.message).toMatch(message);
    }
  });

  it('keeps a usable callId from an invalid request so the caller still gets a result', () => {
    const r = parseSubmission('mcpq.submit.demo', enc({ callId: 'keep-me', tool: 5 }), n, config, 'keep-me');
    expect(r).toMatchObject({ ok: false, code: 'invalid_request', callId: 'keep-me' });
  });

  it('rejects an unknown server alias, naming the configured ones', () => {
    const r = parseSubmission('mcpq.submit.elsewhere', enc({ callId: 'a1', tool: 't' }), n, config, 'a1');
    expect(r).toMatchObject({ ok: false, code: 'unknown_server', callId: 'a1' });
    if (!r.ok) expect(r.message).toMatch(/configured: demo/);
  });

  it('does not treat inherited object keys as configured servers', () => {
    const r = parseSubmission('mcpq.submit.constructor', enc({ callId: 'a1', tool: 't' }), n, config, 'a1');
    expect(r).toMatchObject({ ok: false, code: 'unknown_server' });
  });

  it('rejects arguments over the size limit with arguments_too_large', () => {
    const r = parseSubmission('mcpq.submit.demo', enc({ callId: 'a1', tool: 't', arguments: { text: 'x'.repeat(100) } }), n, config, 'a1');
    expect(r).toMatchObject({ ok: false, code: 'arguments_too_large', callId: 'a1' });
  });

  it('requires the Nats-Msg-Id header, equal to the callId', () => {
    const missing = parseSubmission('mcpq.submit.demo', enc({ callId: 'a1', tool: 't' }), n, config, undefined);
    expect(missing).toMatchObject({ ok: false, code: 'invalid_request', callId: 'a1' });
    if (!missing.ok) expect(missing.message).toMatch(/Nats-Msg-Id header is missing/);
    const other = parseSubmission('mcpq.submit.demo', enc({ callId: 'a1', tool: 't' }), n, config, 'a2');
    expect(other).toMatchObject({ ok: false, code: 'invalid_request' });
    if (!other.ok) expect(other.message).toMatch(/must equal the callId/);
  });

  it('rejects a subject that is not <prefix>.submit.<server>', () => {
    const r = parseSubmission('mcpq.submit.a.b', enc({ callId: 'a1', tool: 't' }), n, config, 'a1');
    expect(r).toMatchObject({ ok: false, code: 'invalid_request' });
  });
});

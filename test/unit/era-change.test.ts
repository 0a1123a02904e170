/**
 * The submitter's rule for a server that may have changed protocol era: a
 * failure that suggests it (`suggestsEraChange`) forgets the cached era and,
 * when the request did not reach the server, becomes retryable, so the call
 * is dispatched again in the new era instead of failing. Anything else is
 * left as it was.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { afterEraChange } from '@mcpq/submitter';
import {
  createLogger,
  DispatchError,
  ErrorCode,
  LimitsConfigSchema,
  McpqError,
  modernError,
  ServerClients,
  ServerConfigSchema,
  type Era,
} from '@mcpq/shared';

function clients() {
  const out = new PassThrough();
  let logged = '';
  out.on('data', (c: Buffer) => (logged += c.toString()));
  const servers = new ServerClients(
    { s: ServerConfigSchema.parse({ url: 'http://127.0.0.1:9/mcp' }) },
    createLogger('test', { destination: out }),
    LimitsConfigSchema.parse({}),
  );
  return { servers, logged: () => logged };
}

const modern: Era = { protocol: '2026-07-28' };
const legacy: Era = { protocol: '2025-11-25', reason: 'test' };
const unsupported = () =>
  modernError({ code: -32022, message: 'Unsupported protocol version', data: { supported: ['2025-11-25'] } }, 400, 'tools/list')!;

describe('afterEraChange', () => {
  it('a 2026-07-28 server answering -32022 before the call was sent: era forgotten, the failure made retryable', async () => {
    const { servers, logged } = clients();
    const after = afterEraChange(servers, 's', modern, unsupported());
    expect(after).toBeInstanceOf(McpqError);
    expect(after).toMatchObject({ code: ErrorCode.protocol_error, retryable: true });
    expect((after as McpqError).message).toMatch(/probing it again/);
    await new Promise((r) => setImmediate(r));
    expect(logged()).toMatch(/probed again/);
  });

  it('a 2025-11-25 server answering with a 2026 error code inside a DispatchError: stays a DispatchError, retryable, not sent', () => {
    const { servers } = clients();
    const after = afterEraChange(servers, 's', legacy, new DispatchError(unsupported(), 'no'));
    expect(after).toBeInstanceOf(DispatchError);
    expect((after as DispatchError).reached).toBe('no');
    expect((after as DispatchError).error.retryable).toBe(true);
  });

  it('a failure after the request may have reached the server is left alone (decideRerun judges it)', () => {
    const { servers } = clients();
    const err = new DispatchError(unsupported(), 'maybe');
    expect(afterEraChange(servers, 's', modern, err)).toBe(err);
  });

  it('failures that say nothing about the era, or before the era was known, are left alone', () => {
    const { servers, logged } = clients();
    const plain = new McpqError(ErrorCode.server_unreachable, 'connection refused', { retryable: true });
    expect(afterEraChange(servers, 's', modern, plain)).toBe(plain);
    const refused = unsupported();
    expect(afterEraChange(servers, 's', undefined, refused)).toBe(refused);
    expect(afterEraChange(servers, 's', undefined, plain)).toBe(plain);
    expect(logged()).toBe('');
  });
});

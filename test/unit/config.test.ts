import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, McpqError } from '@mcpq/shared';

function configError(fn: () => unknown): McpqError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(McpqError);
    expect((err as McpqError).code).toBe('config_invalid');
    return err as McpqError;
  }
  throw new Error('expected a config error');
}

describe('loadConfig', () => {
  it('fills every default from the minimal config', () => {
    const c = loadConfig({ config: { servers: { demo: { url: 'http://127.0.0.1:3000/mcp' } } }, env: {} });
    expect(c.prefix).toBe('mcpq');
    expect(c.nats.servers).toEqual(['nats://127.0.0.1:4222']);
    expect(c.servers.demo).toMatchObject({ mode: 'auto', headers: {}, maxInFlight: 1000 });
    expect(c.joiner.ackWaitMs).toBeGreaterThan(c.joiner.heartbeatMs);
  });

  it('reads MCPQ_CONFIG and applies the documented environment overrides', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpq-cfg-'));
    const path = join(dir, 'c.json');
    writeFileSync(path, JSON.stringify({ servers: { a: { url: 'https://x.example/mcp' } } }));
    const c = loadConfig({
      env: { MCPQ_CONFIG: path, NATS_URL: 'nats://a:1,nats://b:2', MCPQ_PREFIX: 'p1', LOG_LEVEL: 'debug', MCPQ_HTTP_PORT: '9090' },
    });
    expect(c.nats.servers).toEqual(['nats://a:1', 'nats://b:2']);
    expect(c.prefix).toBe('p1');
    expect(c.log.level).toBe('debug');
    expect(c.httpPort).toBe(9090);
  });

  it('names the path of every bad value', () => {
    const err = configError(() =>
      loadConfig({ config: { servers: { demo: { url: 'ftp://x', mode: 'sometimes' } }, joiner: { maxInFlight: 0 } }, env: {} }),
    );
    expect(err.message).toMatch(/servers\.demo\.url: url must be an http/);
    expect(err.message).toMatch(/servers\.demo\.mode/);
    expect(err.message).toMatch(/joiner\.maxInFlight/);
  });

  it('refuses unknown keys (a typo is an error, not a silent default)', () => {
    expect(configError(() => loadConfig({ config: { servres: {} }, env: {} })).message).toMatch(/servres/);
  });

  it('says which environment override was bad', () => {
    expect(configError(() => loadConfig({ config: {}, env: { MCPQ_HTTP_PORT: 'eighty' } })).message).toMatch(
      /httpPort.*MCPQ_HTTP_PORT|MCPQ_HTTP_PORT/s,
    );
  });

  it('refuses a heartbeat that is not below AckWait', () => {
    expect(configError(() => loadConfig({ config: { joiner: { ackWaitMs: 1000, heartbeatMs: 1000 } }, env: {} })).message).toMatch(
      /heartbeatMs/,
    );
  });

  it('resolves header secrets from the environment at start-up, and fails clearly when one is missing', () => {
    const cfg = { servers: { demo: { url: 'http://h/mcp', headers: { authorization: { env: 'DEMO_TOKEN' } } } } };
    expect(() => loadConfig({ config: cfg, env: { DEMO_TOKEN: 'Bearer x' } })).not.toThrow();
    expect(configError(() => loadConfig({ config: cfg, env: {} })).message).toMatch(/DEMO_TOKEN/);
  });

  it("checks a server's tls.caFile at start-up: readable, holding a certificate, on an https:// URL", () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpq-cfg-'));
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'not a certificate\n');
    const garbled = join(dir, 'garbled.pem');
    writeFileSync(garbled, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const server = (url: string, caFile: string) => ({ servers: { demo: { url, tls: { caFile } } } });
    expect(configError(() => loadConfig({ config: server('https://h/mcp', join(dir, 'missing.pem')), env: {} })).message).toMatch(
      /servers\.demo\.tls\.caFile reads file .*missing\.pem, which cannot be read/,
    );
    expect(configError(() => loadConfig({ config: server('https://h/mcp', notPem), env: {} })).message).toMatch(
      /servers\.demo\.tls\.caFile .* holds no PEM certificate/,
    );
    expect(configError(() => loadConfig({ config: server('https://h/mcp', garbled), env: {} })).message).toMatch(
      /servers\.demo\.tls\.caFile .* is not a usable CA bundle/,
    );
    expect(configError(() => loadConfig({ config: server('http://h/mcp', notPem), env: {} })).message).toMatch(
      /servers\.demo\.tls\.caFile is for https:\/\/ servers/,
    );
  });

  it('refuses NATS credentials written in clear in the file', () => {
    expect(configError(() => loadConfig({ config: { nats: { user: 'u', password: 'secret' } }, env: {} })).message).toMatch(
      /nats\.password/,
    );
  });

  it('reports a config file that is not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpq-cfg-'));
    const path = join(dir, 'c.json');
    writeFileSync(path, '{ nope');
    expect(configError(() => loadConfig({ env: { MCPQ_CONFIG: path } })).message).toMatch(/not valid JSON/);
  });
});

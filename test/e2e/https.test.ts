/**
 * MCP servers served over HTTPS: the example server (official SDK, v1) on
 * `https.createServer` with certificates made at test time by the openssl
 * command line, submitter and joiners as processes. The CA is trusted per
 * server (`servers.<alias>.tls.caFile`) or by the whole process
 * (NODE_EXTRA_CA_CERTS). Then what goes wrong in TLS: a certificate nobody
 * trusts, one that names another host, a server that never finishes the
 * handshake: each call ends with an error naming the TLS failure, judged
 * never sent (retried, never `outcome_unknown`).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startExampleServer } from '@mcpq/example-server';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';
import { createTestPki, hasOpenssl, type TestCert, type TestPki } from '../helpers/test-pki.js';

const OPENSSL = hasOpenssl();

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

let dir: string;
let pki: TestPki;
/** Signed by the test CA, for 127.0.0.1 and localhost. */
let good: TestCert;
beforeAll(() => {
  if (!OPENSSL) return;
  dir = mkdtempSync(join(tmpdir(), 'mcpq-https-'));
  pki = createTestPki(dir);
  good = pki.issue('mcp', ['IP:127.0.0.1', 'DNS:localhost']);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const text = (r: Record<string, unknown> | undefined) => (r?.content as Array<{ text?: string }> | undefined)?.[0]?.text;

describe.skipIf(!OPENSSL)(
  OPENSSL ? 'HTTPS MCP servers' : 'HTTPS MCP servers (SKIPPED: no openssl command line to make the certificates)',
  () => {
    it('a short call on the fast path, the CA given in the server config', async () => {
      h = await createHarness({ servers: { demo: { tls: good, settings: { tls: { caFile: pki.caFile } } } } });
      expect(h.mcp.demo!.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/mcp$/);
      await h.start('submitter'); // no joiner: only the fast path can finish it
      const { callId } = await h.client.submit('demo', 'echo', { text: 'over tls' });
      const result = await h.client.result(callId, { timeoutMs: 30_000 });
      expect(result.status).toBe('completed');
      expect(text(result.result)).toBe('over tls');
      expect(h.mcp.demo!.stats().executions.echo).toEqual({ [callId]: 1 });
    });

    it('the CA given to the whole process in NODE_EXTRA_CA_CERTS, no tls in the config', async () => {
      h = await createHarness({ servers: { demo: { tls: good } } });
      await h.start('submitter', { NODE_EXTRA_CA_CERTS: pki.caFile });
      const { callId } = await h.client.submit('demo', 'echo', { text: 'extra ca' });
      const result = await h.client.result(callId, { timeoutMs: 30_000 });
      expect(result.status).toBe('completed');
      expect(text(result.result)).toBe('extra ca');
    });

    it('resume mode: a long call rejoined over TLS (the held GET); SIGKILL of its joiner mid-call, another takes over: one result, progress once, the tool ran once', async () => {
      h = await createHarness({ servers: { demo: { tls: good, settings: { tls: { caFile: pki.caFile } } } } });
      await h.start('submitter');
      const first = await h.start('joiner');
      const { callId } = await h.client.submit('demo', 'slow', { durationMs: 4_000, steps: 5, label: 'tls' });
      // The first joiner holds the call's resume GET (over TLS) and has published some of its progress.
      const rec = await waitFor('the first joiner following the call', async () => {
        const r = await h!.record(callId);
        return r?.owner?.includes(`-${first.pid}-`) && (await h!.storedEvents(callId)).progress.length >= 2 ? r : undefined;
      });
      expect(rec.mode).toBe('resume');
      first.kill('SIGKILL');
      await first.exited;
      const second = await h.start('joiner');
      const result = await h.client.result(callId, { timeoutMs: 60_000 });
      expect(result.status).toBe('completed');
      expect(text(result.result)).toBe('slow done: tls');
      const stored = await h.storedEvents(callId);
      expect(stored.results).toHaveLength(1);
      expect(stored.progress.map((p) => p.seq)).toEqual([1, 2, 3, 4, 5]);
      expect((await h.record(callId))!.owner).toContain(`-${second.pid}-`);
      expect(h.mcp.demo!.stats().executions.slow).toEqual({ [callId]: 1 });
    });

    it('task mode over TLS', async () => {
      h = await createHarness({
        servers: { tasks: { tls: good, tasks: true, taskPollMs: 200, settings: { tls: { caFile: pki.caFile } } } },
      });
      await h.start('submitter');
      await h.start('joiner');
      const { callId } = await h.client.submit('tasks', 'slow_task', { durationMs: 1_500, steps: 3, label: 'tls-task' });
      const result = await h.client.result(callId, { timeoutMs: 30_000 });
      expect(result).toMatchObject({ status: 'completed', mode: 'task' });
      expect(text(result.result)).toBe('slow_task done: tls-task');
    });

    describe('TLS failures: the call ends server_unreachable naming the TLS failure, never outcome_unknown, nothing ran', () => {
      it('a self-signed certificate, no CA given', async () => {
        h = await createHarness({ servers: { demo: { tls: pki.selfSigned('untrusted', ['IP:127.0.0.1']) } } });
        await h.start('submitter');
        await h.start('joiner');
        const { callId } = await h.client.submit('demo', 'slow', { durationMs: 100, steps: 1 });
        const result = await h.client.result(callId, { timeoutMs: 30_000 });
        expect(result.status).toBe('failed');
        expect(result.error!.code).toBe('server_unreachable');
        expect(result.error!.message).toMatch(/TLS handshake failed: self-signed certificate/);
        expect(result.error!.message).toMatch(/tls\.caFile.*NODE_EXTRA_CA_CERTS/);
        expect(result.error!.message).toContain('(DEPTH_ZERO_SELF_SIGNED_CERT)');
        const info = await h.client.status(callId);
        expect(info).toMatchObject({ status: 'failed', error: { code: 'server_unreachable' } });
        expect(h.mcp.demo!.stats().started).toBe(0);
      });

      it('the certificate becomes untrusted after the session was opened (a rotation): tools/call is judged never sent, not outcome_unknown', async () => {
        h = await createHarness({ servers: { demo: { tls: good, settings: { tls: { caFile: pki.caFile } } } } });
        await h.start('submitter');
        await h.start('joiner');
        const warm = (await h.client.submit('demo', 'echo', { text: 'warm' })).callId;
        expect((await h.client.result(warm, { timeoutMs: 30_000 })).status).toBe('completed');
        // The same port now serves a certificate signed by no trusted CA; the submitter still holds its session.
        const port = h.mcp.demo!.port;
        await h.mcp.demo!.close();
        h.mcp.demo = await startExampleServer({ port, tls: pki.selfSigned('rotated', ['IP:127.0.0.1']) });
        // Not idempotent: had the failed POST been judged "may have reached the server", it would end outcome_unknown.
        const { callId } = await h.client.submit('demo', 'slow', { durationMs: 100, steps: 1 });
        const result = await h.client.result(callId, { timeoutMs: 30_000 });
        expect(result.status).toBe('failed');
        expect(result.error!.code).toBe('server_unreachable');
        expect(result.error!.message).toMatch(/^gave up after \d+ attempts: .*TLS handshake failed: self-signed certificate/);
        expect(h.mcp.demo!.stats().started).toBe(0);
      });

      it('a certificate for another host name', async () => {
        const other = pki.issue('other-host', ['DNS:other.example']);
        h = await createHarness({ servers: { demo: { tls: other, settings: { tls: { caFile: pki.caFile } } } } });
        await h.start('submitter');
        const { callId } = await h.client.submit('demo', 'slow', { durationMs: 100, steps: 1 });
        const result = await h.client.result(callId, { timeoutMs: 30_000 });
        expect(result.status).toBe('failed');
        expect(result.error!.code).toBe('server_unreachable');
        expect(result.error!.message).toMatch(/TLS handshake failed: Hostname\/IP does not match certificate's altnames/);
        expect(result.error!.message).toContain('(ERR_TLS_CERT_ALTNAME_INVALID)');
        expect(h.mcp.demo!.stats().started).toBe(0);
      });

      it('a server that takes the TCP connection and never answers the handshake (a fake: a raw TCP server that reads and says nothing) is bounded by connectTimeoutMs', async () => {
        // FAKE: no real TLS server stalls its handshake on demand; this one accepts, reads the ClientHello, never answers.
        const sockets = new Set<Socket>();
        const mute: Server = createServer((s) => {
          sockets.add(s);
          s.on('data', () => undefined);
          s.on('error', () => undefined);
        });
        await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
        const port = (mute.address() as { port: number }).port;
        try {
          h = await createHarness({
            servers: {},
            config: { servers: { mute: { url: `https://127.0.0.1:${port}/mcp`, connectTimeoutMs: 1_000, tls: { caFile: pki.caFile } } } },
          });
          await h.start('submitter');
          const { callId } = await h.client.submit('mute', 'slow', { durationMs: 100, steps: 1 });
          const result = await h.client.result(callId, { timeoutMs: 60_000 });
          expect(result.status).toBe('failed');
          expect(result.error!.code).toBe('server_unreachable');
          expect(result.error!.message).toMatch(/TLS handshake not completed within 1000 ms/);
          expect(sockets.size).toBeGreaterThan(0);
        } finally {
          for (const s of sockets) s.destroy();
          await new Promise((r) => mute.close(r));
        }
      });

      it('a tls.caFile that holds no certificate stops the service at start with the field named', async () => {
        h = await createHarness({ servers: { demo: { tls: good, settings: { tls: { caFile: pki.caFile } } } } });
        const bad = join(dir, 'not-a-ca.pem');
        writeFileSync(bad, 'not a certificate\n');
        const config = JSON.parse(readFileSync(h.configPath, 'utf8')) as { servers: Record<string, { tls?: { caFile: string } }> };
        config.servers.demo!.tls = { caFile: bad };
        const badConfig = join(dir, 'bad-config.json');
        writeFileSync(badConfig, JSON.stringify(config));
        await expect(h.start('submitter', { MCPQ_CONFIG: badConfig })).rejects.toThrow(
          /servers\.demo\.tls\.caFile .* holds no PEM certificate/,
        );
      });
    });
  },
);

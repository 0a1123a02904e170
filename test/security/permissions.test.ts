/**
 * mcpq under exactly the least-privilege users of docs/nats-permissions.conf:
 * an admin provisions, the services run with their own users, and a caller
 * can submit, watch, wait and cancel, but cannot hand a job to the joiners,
 * write a call record or publish a result.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { McpqClient } from '@mcpq/client';
import { startConsole } from '@mcpq/console';
import { ENTRY, REPO_ROOT, startNatsServer } from '@mcpq/testkit';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';

const passwords = {
  MCPQ_ADMIN_PASSWORD: 'admin-pw-1',
  MCPQ_SUBMITTER_PASSWORD: 'submitter-pw-2',
  MCPQ_JOINER_PASSWORD: 'joiner-pw-3',
  MCPQ_CALLER_PASSWORD: 'caller-pw-4',
  MCPQ_CONSOLE_PASSWORD: 'console-pw-5',
  MCPQ_GATEWAY_PASSWORD: 'gateway-pw-5',
};

let h: Harness;
let callerConn: NatsConnection;
let caller: McpqClient;
let gatewayUrl: string;

/** A service's config: the test's config with the role's NATS user. */
function asUser(user: string, passwordVar: keyof typeof passwords): NodeJS.ProcessEnv {
  const config = { ...h.config, nats: { servers: h.nats.url, user, password: { env: passwordVar } } };
  return { MCPQ_CONFIG: '', MCPQ_CONFIG_JSON: JSON.stringify(config), ...passwords };
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpq-perm-'));
  copyFileSync(`${REPO_ROOT}docs/nats-permissions.conf`, join(dir, 'nats-permissions.conf'));
  writeFileSync(join(dir, 'server.conf'), 'include ./nats-permissions.conf\n');
  Object.assign(process.env, passwords); // nats-server reads the passwords from its environment
  const nats = await startNatsServer({ args: ['-c', join(dir, 'server.conf')] });
  h = await createHarness({ nats, clientNatsOptions: { user: 'mcpq-admin', pass: passwords.MCPQ_ADMIN_PASSWORD }, prefix: 'mcpq' });
  // The admin provisions, with the CLI.
  const prov = spawnSync(process.execPath, [ENTRY.cli, 'provision', '--json'], {
    env: { ...process.env, ...asUser('mcpq-admin', 'MCPQ_ADMIN_PASSWORD') },
    encoding: 'utf8',
  });
  expect(prov.stderr).toBe('');
  expect(prov.status).toBe(0);
  await h.start('submitter', asUser('mcpq-submitter', 'MCPQ_SUBMITTER_PASSWORD'));
  await h.start('joiner', asUser('mcpq-joiner', 'MCPQ_JOINER_PASSWORD'));
  ({ url: gatewayUrl } = await h.startGateway(asUser('mcpq-gateway', 'MCPQ_GATEWAY_PASSWORD')));
  callerConn = await connect({ servers: h.nats.url, user: 'mcpq-caller', pass: passwords.MCPQ_CALLER_PASSWORD });
  caller = new McpqClient(callerConn, { prefix: 'mcpq' });
});
afterAll(async () => {
  await callerConn?.close();
  await h?.close();
});

describe('least privilege', () => {
  it('a caller can submit, watch and wait for results, read status, and cancel', async () => {
    const { callId } = await caller.submit('demo', 'slow', { durationMs: 600, steps: 3, label: 'perm' });
    const events = [];
    for await (const e of caller.watch(callId, { timeoutMs: 30_000 })) events.push(e);
    expect(events.filter((e) => e.type === 'progress')).toHaveLength(3);
    expect(events.at(-1)).toMatchObject({ type: 'result', status: 'completed' });
    expect((await caller.result(callId, { timeoutMs: 10_000 })).status).toBe('completed');
    expect((await caller.status(callId))?.status).toBe('completed');
    expect((await caller.list({ status: 'completed' })).map((c) => c.callId)).toContain(callId);

    const long = await caller.submit('demo', 'slow', { durationMs: 30_000, steps: 30 });
    await waitFor('running', async () => (await caller.status(long.callId))?.status === 'running');
    expect(await caller.cancel(long.callId)).toMatchObject({ accepted: true, status: 'cancelled' });
    expect((await caller.result(long.callId, { timeoutMs: 10_000 })).status).toBe('cancelled');
  });

  it('a caller cannot hand a job to the joiners, write a call record, or publish a result', async () => {
    const js = jetstream(callerConn, { timeout: 2_000 });
    const refused = /Permissions Violation/i;
    await expect(js.publish('mcpq.join.demo', JSON.stringify({ callId: 'forged', server: 'demo', mode: 'hold' }))).rejects.toThrow(refused);
    await expect(
      js.publish(
        'mcpq.call.forged.result',
        JSON.stringify({ callId: 'forged', status: 'completed', attempts: 1, startedAt: '', finishedAt: '' }),
      ),
    ).rejects.toThrow(refused);
    const kv = await new Kvm(callerConn).open('mcpq_calls');
    await expect(kv.put('forged', '{}')).rejects.toThrow(refused);
    // Nothing of it was stored.
    const jsm = await h.jsm();
    expect((await jsm.streams.info('MCPQ_JOIN')).state.messages).toBe(0);
    expect(await jsm.streams.getMessage('MCPQ_EVENTS', { last_by_subj: 'mcpq.call.forged.result' }).catch(() => null)).toBeNull();
    expect(await h.record('forged')).toBeUndefined();
  });

  it('the console runs under mcpq-console: lists, opens and cancels calls, shows queues and joiners, replays a dead letter', async () => {
    const nc = await connect({ servers: h.nats.url, user: 'mcpq-console', pass: passwords.MCPQ_CONSOLE_PASSWORD });
    const violations: string[] = [];
    void (async () => {
      for await (const st of nc.status()) if (st.type === 'error') violations.push(String(st.error));
    })();
    const ui = await startConsole({ config: h.config, nc, port: 0 });
    try {
      const me = (await (await fetch(new URL('/api/me', ui.url))).json()) as { csrf: string };
      const get = async (path: string) => {
        const res = await fetch(new URL(path, ui.url));
        expect(res.status, path).toBe(200);
        return res.json() as Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      };
      const done = await caller.submit('demo', 'slow', { durationMs: 300, steps: 2 });
      await caller.result(done.callId, { timeoutMs: 30_000 });
      const running = await caller.submit('demo', 'slow', { durationMs: 30_000, steps: 30 });
      await waitFor('running', async () => (await caller.status(running.callId))?.status === 'running');
      await waitFor('both calls listed', async () => {
        const ids = ((await get('/api/calls')).calls as Array<{ callId: string }>).map((c) => c.callId);
        return ids.includes(done.callId) && ids.includes(running.callId);
      });
      expect((await get(`/api/calls/${done.callId}`)).result.status).toBe('completed');
      const timeline = await (await fetch(new URL(`/api/calls/${done.callId}/events`, ui.url))).text();
      expect(timeline).toContain('"type":"result"');
      const queues = await get('/api/queues');
      expect(queues.joiners).toHaveLength(1);
      // submit, join, events, dlq, advisories, the calls bucket: the three durable consumers are there
      expect(queues.streams.map((q: { consumers: unknown[] }) => q.consumers.length)).toEqual([1, 1, 0, 0, 1, 0]);
      expect((await get('/api/servers')).servers.map((v: { alias: string }) => v.alias)).toEqual(['demo']);
      const cancel = await fetch(new URL(`/api/calls/${running.callId}/cancel`, ui.url), { method: 'POST', headers: { 'x-mcpq-csrf': me.csrf } });
      expect(await cancel.json()).toMatchObject({ accepted: true });
      // A dead letter (a submission that is not JSON), listed and replayed.
      await jetstream(callerConn).publish('mcpq.submit.demo', 'not json');
      const letters = await waitFor('a dead letter', async () => {
        const l = (await get('/api/dead-letters')).deadLetters as Array<{ dlqSeq: number }>;
        return l.length > 0 ? l : undefined;
      });
      const replay = await fetch(new URL(`/api/dead-letters/${letters[0]!.dlqSeq}/replay`, ui.url), { method: 'POST', headers: { 'x-mcpq-csrf': me.csrf } });
      expect(await replay.json()).toMatchObject({ outcome: 'replayed', subject: 'mcpq.submit.demo' });
      expect(violations).toEqual([]);
    } finally {
      await ui.close();
      await nc.close();
    }
  });

  it('the gateway, as mcpq-gateway, lists tools, serves a synchronous call and a task to an MCP host', async () => {
    const host = new Client({ name: 'perm-host', version: '1' });
    await host.connect(new StreamableHTTPClientTransport(new URL(gatewayUrl)));
    try {
      expect((await host.listTools()).tools.map((t) => t.name)).toContain('demo__echo');
      const sync = await host.callTool({ name: 'demo__echo', arguments: { text: 'through the gateway' } });
      expect(sync.content).toEqual([{ type: 'text', text: 'through the gateway' }]);
      const created = await host.request(
        { method: 'tools/call', params: { name: 'demo__echo', arguments: { text: 'task' }, task: { ttl: 60_000 } } },
        CreateTaskResultSchema,
      );
      const result = await host.experimental.tasks.getTaskResult(created.task.taskId, CallToolResultSchema);
      expect(result.content).toEqual([{ type: 'text', text: 'task' }]);
      expect((await host.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toContain(created.task.taskId);
    } finally {
      await host.close();
    }
  });

  it('the services needed no permission beyond theirs', () => {
    for (const s of h.services) {
      expect(s.raw.filter((l) => /Permissions Violation|permission/i.test(l))).toEqual([]);
      expect(s.running).toBe(true);
    }
  });
});

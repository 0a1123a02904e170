/**
 * mcpq under exactly the least-privilege accounts and users of
 * docs/nats-permissions.conf: an admin provisions, the services run with
 * their own users, and a caller (in its own account) can submit, watch, wait
 * and cancel, but cannot hand a job to the joiners, write a call record or
 * publish a result; the web console and the MCP gateway run as
 * `mcpq-console` and `mcpq-gateway` in the services account. The file is what `mcpq accounts` prints.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { startConsole } from '@mcpq/console';
import { ENTRY, REPO_ROOT } from '@mcpq/testkit';
import { tenantApiPrefix } from '@mcpq/shared';
import { startAccountsRun, type AccountsRun, type Caller } from '../helpers/accounts.js';
import { waitFor } from '../helpers/harness.js';

const conf = readFileSync(`${REPO_ROOT}docs/nats-permissions.conf`, 'utf8');
let run: AccountsRun;
let caller: Caller;
let gatewayUrl: string;

beforeAll(async () => {
  run = await startAccountsRun(conf, ['mcpq']);
  await run.startServices('mcpq');
  ({ url: gatewayUrl } = await run.h.startGateway(run.serviceEnv('mcpq', 'mcpq-gateway')));
  caller = await run.caller('mcpq');
});
afterAll(async () => {
  await run?.close();
});

describe('least privilege', () => {
  it('docs/nats-permissions.conf is what `mcpq accounts` prints for the default prefix', () => {
    const printed = spawnSync(process.execPath, [ENTRY.cli, 'accounts'], {
      env: { ...process.env, MCPQ_CONFIG: '', MCPQ_PREFIX: '' },
      encoding: 'utf8',
    });
    expect(printed.status).toBe(0);
    expect(printed.stdout).toBe(conf);
  });

  it('a caller can submit, watch and wait for results, read status, and cancel', async () => {
    const { client } = caller;
    const { callId } = await client.submit('demo', 'slow', { durationMs: 600, steps: 3, label: 'perm' });
    const events = [];
    for await (const e of client.watch(callId, { timeoutMs: 30_000 })) events.push(e);
    expect(events.filter((e) => e.type === 'progress')).toHaveLength(3);
    expect(events.at(-1)).toMatchObject({ type: 'result', status: 'completed' });
    expect((await client.result(callId, { timeoutMs: 10_000 })).status).toBe('completed');
    expect((await client.status(callId))?.status).toBe('completed');

    const long = await client.submit('demo', 'slow', { durationMs: 30_000, steps: 30 });
    await waitFor('running', async () => (await client.status(long.callId))?.status === 'running');
    expect(await client.cancel(long.callId)).toMatchObject({ accepted: true, status: 'cancelled' });
    expect((await client.result(long.callId, { timeoutMs: 10_000 })).status).toBe('cancelled');
  });

  it('listing call records is an operator’s job: the admin can, a caller cannot', async () => {
    expect((await run.h.client.list({ status: 'completed' })).calls.length).toBeGreaterThan(0);
    await expect(caller.client.list()).rejects.toThrow();
  });

  it('a caller cannot hand a job to the joiners, write a call record, or publish a result', async () => {
    const js = jetstream(caller.nc, { apiPrefix: tenantApiPrefix('mcpq'), timeout: 2_000 });
    const refused = /Permissions Violation/i;
    await expect(js.publish('mcpq.join.demo', JSON.stringify({ callId: 'forged', server: 'demo', mode: 'hold' }))).rejects.toThrow(refused);
    await expect(
      js.publish(
        'mcpq.call.forged.result',
        JSON.stringify({ callId: 'forged', status: 'completed', attempts: 1, startedAt: '', finishedAt: '' }),
      ),
    ).rejects.toThrow(refused);
    await expect(js.publish('$KV.mcpq_calls.forged', '{}')).rejects.toThrow(refused);
    // Nothing of it was stored.
    const jsm = await run.h.jsm();
    // (the cancelled call's own join is acknowledged once its joiner has read the record: wait for that)
    await waitFor('the join queue is empty', async () => (await jsm.streams.info('MCPQ_JOIN')).state.messages === 0);
    expect(await jsm.streams.getMessage('MCPQ_EVENTS', { last_by_subj: 'mcpq.call.forged.result' }).catch(() => null)).toBeNull();
    expect(await run.h.record('forged')).toBeUndefined();
  });

  it('the console runs under mcpq-console: lists, opens and cancels calls, shows queues and joiners, replays a dead letter', async () => {
    const h = run.h;
    const client = caller.client;
    const nc = await connect({ servers: h.nats.url, user: 'mcpq-console', pass: run.password('mcpq-console') });
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
      const done = await client.submit('demo', 'slow', { durationMs: 300, steps: 2 });
      await client.result(done.callId, { timeoutMs: 30_000 });
      const running = await client.submit('demo', 'slow', { durationMs: 30_000, steps: 30 });
      await waitFor('running', async () => (await client.status(running.callId))?.status === 'running');
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
      const cancel = await fetch(new URL(`/api/calls/${running.callId}/cancel`, ui.url), {
        method: 'POST',
        headers: { 'x-mcpq-csrf': me.csrf },
      });
      expect(await cancel.json()).toMatchObject({ accepted: true });
      // A dead letter (a submission that is not JSON, from a caller), listed and replayed.
      await jetstream(caller.nc, { apiPrefix: tenantApiPrefix('mcpq') }).publish('mcpq.submit.demo', 'not json');
      const letters = await waitFor('a dead letter', async () => {
        const l = (await get('/api/dead-letters')).deadLetters as Array<{ dlqSeq: number }>;
        return l.length > 0 ? l : undefined;
      });
      const replay = await fetch(new URL(`/api/dead-letters/${letters[0]!.dlqSeq}/replay`, ui.url), {
        method: 'POST',
        headers: { 'x-mcpq-csrf': me.csrf },
      });
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
      // An id nobody was given: no record, no marker, also as the stream's leader has it (asked with
      // STREAM.MSG.GET, which mcpq-gateway may send): "not found", not a refused read.
      const unknown = await host.experimental.tasks.getTask(`${created.task.taskId.slice(0, -4)}zzzz`).catch((err: unknown) => err);
      expect(String(unknown)).toMatch(/-32602/); // the SDK's "task not found", not -32603 (a read refused or failed)
      expect(String(unknown)).not.toMatch(/permission|nats_error/i);
    } finally {
      await host.close();
    }
  });

  it('the services needed no permission beyond theirs', () => {
    for (const s of run.h.services) {
      expect(s.raw.filter((l) => /Permissions Violation|permission/i.test(l))).toEqual([]);
      expect(s.running).toBe(true);
    }
  });
});

/**
 * The gateway's reads on a host's request path (tasks/get, tasks/list) while
 * NATS fails: they ride out the failure within their bound and then answer
 * what is there, or fail as what it is (-32603, data.code nats_error) —
 * never "not found", and never the -32602 a refused cursor gets.
 *
 * Two faults: NatsCutProxy (a fault injector in front of the real
 * nats-server) loses one chosen read of the gateway's and cuts its
 * connection, so that read fails only at its timeout; and the real
 * nats-server stopped and started again under a waiting request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateTaskResultSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { Kvm } from '@nats-io/kv';
import { CallStore } from '@mcpq/shared';
import { createHarness, type Harness } from '../helpers/harness.js';
import { NatsCutProxy } from '../helpers/nats-cut-proxy.js';
import { connectHost } from './gateway-helpers.js';

let h: Harness;
const hosts: Client[] = [];
const cutters: NatsCutProxy[] = [];
beforeAll(async () => {
  // No submitter runs: a task accepted by the gateway has no record, only its acceptance marker.
  h = await createHarness();
});
afterAll(async () => {
  await Promise.all(hosts.map((c) => c.close().catch(() => undefined)));
  await h.close();
  await Promise.all(cutters.map((c) => c.close()));
});

async function host(url: string): Promise<Client> {
  const c = await connectHost(url);
  hosts.push(c);
  return c;
}

async function createTask(client: Client): Promise<string> {
  const created = await client.request(
    { method: 'tools/call', params: { name: 'demo__echo', arguments: { text: 'x' }, task: { ttl: 60_000 } } },
    CreateTaskResultSchema,
  );
  return created.task.taskId;
}

/** A gateway whose NATS connection goes through a NatsCutProxy losing the first request `matches` picks once armed (after start-up). */
async function gatewayLosing(matches: (subject: string) => boolean): Promise<{ url: string; cut: NatsCutProxy; arm: () => void }> {
  let armed = false;
  const cut = await NatsCutProxy.start(h.nats.url, (subject) => armed && matches(subject), { lose: true });
  cutters.push(cut);
  const { url } = await h.startGateway({ NATS_URL: cut.url });
  return { url, cut, arm: () => (armed = true) };
}

describe('gateway reads while NATS fails', () => {
  it('tasks/get of a just-accepted task whose marker read is lost answers working, once it is read again', async () => {
    const directGet = `$JS.API.DIRECT.GET.${h.names.streams.events}.`;
    const { url, cut, arm } = await gatewayLosing((s) => s.startsWith(directGet) && s.endsWith('.status'));
    const client = await host(url);
    const taskId = await createTask(client);
    arm();

    const task = await client.experimental.tasks.getTask(taskId);
    expect(cut.cuts).toBe(1);
    expect(task).toMatchObject({ taskId, status: 'working', statusMessage: 'queued' });
  });

  it('tasks/list whose read of the records is lost answers the page, once it is read again', async () => {
    const { url, cut, arm } = await gatewayLosing((s) => s === `$JS.API.STREAM.INFO.KV_${h.names.bucket}`);
    const client = await host(url);
    const taskId = await createTask(client);
    // A record to list (no submitter runs here): what a submitter's claim creates first.
    const kv = await new Kvm(h.nc).open(h.names.bucket);
    await new CallStore(kv).create({ callId: taskId, server: 'demo', tool: 'echo', status: 'accepted', idempotent: true });
    arm();

    const page = await client.experimental.tasks.listTasks();
    expect(cut.cuts).toBe(1);
    expect(page.tasks.map((t) => t.taskId)).toContain(taskId);
  });

  it('NATS stopped and started again under tasks/get and tasks/list: both answer what is there afterwards', async () => {
    const { url } = await h.startGateway();
    const client = await host(url);
    const taskId = await createTask(client);
    await h.nats.stop();
    const get = client.experimental.tasks.getTask(taskId).catch((e: unknown) => e);
    const list = client.experimental.tasks.listTasks().catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 1_500)); // the outage: both requests wait meanwhile
    await h.nats.restart();

    expect(await get).toMatchObject({ taskId, status: 'working' });
    const page = await list;
    expect(page).toHaveProperty('tasks');
  });

  it('NATS down for longer than the bound: tasks/get and tasks/cancel of a known task fail as a NATS failure (-32603 nats_error), not "not found"', async () => {
    const { url } = await h.startGateway();
    const client = await host(url);
    const taskId = await createTask(client);
    await h.nats.stop();
    try {
      const errors = await Promise.all([
        client.experimental.tasks.getTask(taskId).catch((e: unknown) => e),
        client.experimental.tasks.cancelTask(taskId).catch((e: unknown) => e),
      ]);
      for (const err of errors) {
        expect(err).toBeInstanceOf(McpError);
        expect({ code: (err as McpError).code, data: (err as McpError).data }).toMatchObject({
          code: -32603,
          data: { code: 'nats_error' },
        });
      }
    } finally {
      await h.nats.restart();
    }
    expect(await client.experimental.tasks.getTask(taskId)).toMatchObject({ taskId, status: 'working' });
  });
});

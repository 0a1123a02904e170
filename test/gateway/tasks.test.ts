/**
 * MCP 2025-11-25 tasks through the gateway: a task is mcpq's call, so its
 * state and result live in NATS, not in a gateway. A host that loses its
 * gateway (SIGKILL) gets its result from another one with a new session,
 * and the tool ran once; a task not yet claimed by a submitter is
 * `working`; tasks/cancel reaches the upstream server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, CreateTaskResultSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { newTenantCallId } from '@mcpq/shared';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';
import { connectHost, firstText } from './gateway-helpers.js';

let h: Harness;
/** The gateway most tests use (the SIGKILL test starts its own). */
let url: string;
const hosts: Client[] = [];
beforeAll(async () => {
  h = await createHarness({ servers: { demo: {}, tasks: { tasks: true, taskPollMs: 200 } } });
  await h.start('joiner');
  ({ url } = await h.startGateway());
});
afterAll(async () => {
  await Promise.all(hosts.map((c) => c.close().catch(() => undefined)));
  await h.close();
});

async function host(url: string): Promise<Client> {
  const c = await connectHost(url);
  hosts.push(c);
  return c;
}

async function createTask(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const created = await client.request(
    { method: 'tools/call', params: { name, arguments: args, task: { ttl: 60_000 } } },
    CreateTaskResultSchema,
  );
  expect(created.task.status).toBe('working');
  return created.task.taskId;
}

describe('gateway: tasks (2025-11-25)', () => {
  it('a task accepted but not yet claimed by any submitter is working, then completes once one runs', async () => {
    const client = await host(url);
    const taskId = await createTask(client, 'demo__echo', { text: 'later' });
    expect(await h.record(taskId)).toBeUndefined(); // no submitter yet: no record
    const task = await client.experimental.tasks.getTask(taskId);
    expect(task).toMatchObject({ taskId, status: 'working' });
    await h.start('submitter');
    const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    expect(firstText(result)).toBe('later');
    expect((await client.experimental.tasks.getTask(taskId)).status).toBe('completed');
  });

  it('a made-up task id of the right tenant is not found at once (no record, no acceptance marker)', async () => {
    const client = await host(url);
    const err = await client.experimental.tasks.getTask(newTenantCallId('default')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(-32602);
  });

  it('SIGKILL of the gateway mid-task: another gateway, new client and session, returns the result; the tool ran once', async () => {
    const first = await h.startGateway();
    const taskId = await createTask(await host(first.url), 'tasks__slow_task', { durationMs: 3_000, steps: 3, label: 'survivor' });
    await waitFor('the tool runs upstream', () => Object.values(h.mcp.tasks!.stats().executions).some((byKey) => (byKey[taskId] ?? 0) > 0));
    first.svc.kill('SIGKILL');
    await first.svc.exited;

    const second = await h.startGateway();
    const client = await host(second.url);
    expect((await client.experimental.tasks.getTask(taskId)).taskId).toBe(taskId);
    const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    expect(firstText(result)).toBe('slow_task done: survivor');
    const runs = Object.values(h.mcp.tasks!.stats().executions).reduce((n, byKey) => n + (byKey[taskId] ?? 0), 0);
    expect(runs).toBe(1);
    const listed = await client.experimental.tasks.listTasks();
    expect(listed.tasks.find((t) => t.taskId === taskId)?.status).toBe('completed');
  });

  it('bad arguments for a task are a JSON-RPC error at once (-32602, invalid_arguments), and no call is queued', async () => {
    const client = await host(url);
    const queued = h.mcp.demo!.stats().started;
    const err = await createTask(client, 'demo__echo', { text: 42 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(-32602);
    expect((err as McpError).data).toMatchObject({ code: 'invalid_arguments' });
    expect((err as McpError).message).toContain('text');
    expect(h.mcp.demo!.stats().started).toBe(queued);
  });

  it('tasks/cancel through the gateway cancels the call and reaches the upstream server', async () => {
    const client = await host(url);
    const taskId = await createTask(client, 'demo__slow', { durationMs: 30_000, steps: 30 });
    await waitFor('the tool runs upstream', () => (h.mcp.demo!.stats().executions.slow?.[taskId] ?? 0) > 0);
    await waitFor('the call is followed by a joiner', async () => (await h.record(taskId))?.status === 'running');
    const cancelled = await client.experimental.tasks.cancelTask(taskId);
    expect(cancelled.status).toBe('cancelled');
    await waitFor('the server stopped the tool', () => h.mcp.demo!.stats().cancelled.includes(taskId), 15_000);
    const err = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).data).toMatchObject({ code: 'cancelled', callId: taskId });
  });
});

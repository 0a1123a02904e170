/**
 * MCP 2026-07-28 through the gateway, with raw requests (the SDK 2.x client
 * cannot decode a task result): `server/discover` advertises the tasks
 * extension; a `tools/call` that declares it gets a flat task whose id is the
 * mcpq call id, `tasks/get` carries the result inline once it ends, and
 * `tasks/cancel` reaches the upstream server; a `tools/call` that does not
 * declare it is answered synchronously.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';

const VERSION = '2026-07-28';
const TASKS = 'io.modelcontextprotocol/tasks';

let h: Harness;
let url: string;
beforeAll(async () => {
  h = await createHarness({ servers: { demo: {} } });
  await h.start('submitter');
  await h.start('joiner');
  ({ url } = await h.startGateway());
});
afterAll(async () => {
  await h.close();
});

interface RpcAnswer {
  status: number;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: Record<string, unknown> };
  notifications: Array<{ method: string; params?: Record<string, unknown> }>;
}

let nextId = 1;
/** One 2026-07-28 request, with the envelope `_meta` and headers the revision requires; reads a JSON or SSE answer. */
async function rpc(method: string, params: Record<string, unknown>, options: { tasks?: boolean; name?: string } = {}): Promise<RpcAnswer> {
  const id = nextId++;
  const meta = {
    'io.modelcontextprotocol/protocolVersion': VERSION,
    'io.modelcontextprotocol/clientCapabilities': options.tasks ? { extensions: { [TASKS]: {} } } : {},
    'io.modelcontextprotocol/clientInfo': { name: 'raw-2026-host', version: '1' },
  };
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': VERSION,
      'mcp-method': method,
      ...(options.name ? { 'mcp-name': options.name } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, _meta: { ...(params._meta as object), ...meta } } }),
  });
  const text = await res.text();
  const messages = (res.headers.get('content-type') ?? '').includes('text/event-stream')
    ? text
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [JSON.parse(text) as Record<string, unknown>];
  const answer = messages.find((m) => m.id === id) as { result?: Record<string, unknown>; error?: RpcAnswer['error'] } | undefined;
  return {
    status: res.status,
    ...(answer?.result ? { result: answer.result } : {}),
    ...(answer?.error ? { error: answer.error } : {}),
    notifications: messages.filter((m) => m.id === undefined) as RpcAnswer['notifications'],
  };
}

describe('gateway: MCP 2026-07-28', () => {
  it('server/discover offers 2026-07-28 and the tasks extension', async () => {
    const { result } = await rpc('server/discover', {});
    expect(result?.supportedVersions).toContain(VERSION);
    expect((result?.capabilities as { extensions?: Record<string, unknown> }).extensions).toHaveProperty(TASKS);
  });

  it('tools/list names the tools <alias>__<tool>', async () => {
    const { result } = await rpc('tools/list', {});
    expect((result?.tools as Array<{ name: string }>).map((t) => t.name)).toEqual(expect.arrayContaining(['demo__echo', 'demo__slow']));
  });

  it('a tools/call that does not declare the extension is answered synchronously, with its progress', async () => {
    const answer = await rpc(
      'tools/call',
      { name: 'demo__slow', arguments: { durationMs: 600, steps: 3, label: 'modern' }, _meta: { progressToken: 'p1' } },
      { name: 'demo__slow' },
    );
    expect(answer.result?.content).toEqual([{ type: 'text', text: 'slow done: modern' }]);
    expect(answer.notifications.filter((n) => n.method === 'notifications/progress').map((n) => n.params?.progress)).toEqual([1, 2, 3]);
  });

  it('a tools/call that declares the extension gets a flat task; tasks/get carries the result inline; the tool ran once', async () => {
    const created = await rpc(
      'tools/call',
      { name: 'demo__slow', arguments: { durationMs: 800, steps: 2, label: 'task' } },
      { tasks: true, name: 'demo__slow' },
    );
    expect(created.result).toMatchObject({ resultType: 'task', status: 'working', pollIntervalMs: expect.any(Number) });
    const taskId = created.result!.taskId as string;
    expect(typeof created.result!.ttlMs).toBe('number');
    const done = await waitFor('the task to complete', async () => {
      const got = await rpc('tasks/get', { taskId }, { tasks: true, name: taskId });
      expect(got.error).toBeUndefined();
      return got.result?.status === 'completed' ? got.result : undefined;
    });
    expect(done.result).toMatchObject({ content: [{ type: 'text', text: 'slow done: task' }] });
    expect(h.mcp.demo!.stats().executions.slow?.[taskId]).toBe(1);
  });

  it('tasks/cancel is acknowledged, the task ends cancelled with the error inline, and the upstream server saw it', async () => {
    const created = await rpc(
      'tools/call',
      { name: 'demo__slow', arguments: { durationMs: 30_000, steps: 30 } },
      { tasks: true, name: 'demo__slow' },
    );
    const taskId = created.result!.taskId as string;
    await waitFor('the call is followed by a joiner', async () => (await h.record(taskId))?.status === 'running');
    const ack = await rpc('tasks/cancel', { taskId }, { tasks: true, name: taskId });
    expect(ack.error).toBeUndefined();
    await waitFor('the server stopped the tool', () => h.mcp.demo!.stats().cancelled.includes(taskId), 15_000);
    const got = await rpc('tasks/get', { taskId }, { tasks: true, name: taskId });
    expect(got.result).toMatchObject({ taskId, status: 'cancelled', error: { data: { code: 'cancelled' } } });
  });

  it('an unknown task id and an unknown tool are JSON-RPC errors with the mcpq code', async () => {
    const task = await rpc('tasks/get', { taskId: 'no-such-task' }, { tasks: true, name: 'no-such-task' });
    expect(task.error).toMatchObject({ code: -32602, data: { code: 'not_found' } });
    const tool = await rpc('tools/call', { name: 'demo__nope', arguments: {} }, { name: 'demo__nope' });
    expect(tool.error).toMatchObject({ code: -32602, data: { code: 'unknown_tool' } });
  });
});

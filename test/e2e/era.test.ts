/**
 * MCP 2026-07-28 on the client side, against real servers built with the
 * official SDKs: v2 (`@modelcontextprotocol/server`, modern-only and
 * dual-era) and v1 (the 2025-11-25 example server). No NATS: this is the
 * protocol layer the followers build on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExampleServer, type ExampleServer } from '@mcpq/example-server';
import { startServer2026, type Server2026 } from '@mcpq/example-server-2026';
import {
  EraCache,
  ErrorCode,
  LimitsConfigSchema,
  McpHttpClient,
  McpqError,
  MODERN_SESSION,
  ModernMcpClient,
  probeEra,
  PROTOCOL_VERSION_META_KEY,
  suggestsEraChange,
  toolCallMessage,
  toolCallIds,
  withEnvelope,
  type JsonRpcNotification,
  type TaskView,
} from '@mcpq/shared';
import { waitFor } from '../helpers/harness.js';
import { rejectionOf } from '../helpers/assertions.js';

let modern: Server2026;
let dual: Server2026;
let legacy: ExampleServer;

beforeAll(async () => {
  [modern, dual, legacy] = await Promise.all([startServer2026({ era: 'modern' }), startServer2026({ era: 'dual' }), startExampleServer()]);
});
afterAll(async () => {
  await Promise.all([modern?.close(), dual?.close(), legacy?.close()]);
});

const { maxResponseBytes, maxRetryAfterMs } = LimitsConfigSchema.parse({});
const http = (url: string) => new McpHttpClient({ url, headers: {}, requestTimeoutMs: 5_000, maxResponseBytes, maxRetryAfterMs });
const textOf = (result: Record<string, unknown> | undefined) => (result?.content as Array<{ text?: string }> | undefined)?.[0]?.text;

let callNumber = 0;
/** A tools/call message as the followers build it (call id in `_meta`, progress token). */
function call(tool: string, args: Record<string, unknown>) {
  const callId = `era-${++callNumber}`;
  return { callId, message: toolCallMessage(toolCallIds(callId, 1), callId, { tool, arguments: args } as never) };
}

/** Reasons a promise rejected with, as an McpqError. */
const failure = (p: Promise<unknown>) => rejectionOf(p, McpqError);

/** tools/call whose Mcp-Param-Region header says something else than the body (-32020). */
function headerMismatch(url: string) {
  return http(url).request(MODERN_SESSION, 'tools/call', withEnvelope({ name: 'regional', arguments: { region: 'eu', query: 'q' } }, {}), {
    headers: { 'mcp-method': 'tools/call', 'mcp-name': 'regional', 'mcp-param-region': 'us' },
  });
}

/** A well-formed request for a protocol version no server serves (-32022). */
function unsupportedVersion(url: string) {
  const params = withEnvelope({}, {});
  (params._meta as Record<string, unknown>)[PROTOCOL_VERSION_META_KEY] = '2099-01-01';
  return http(url).request({ protocolVersion: '2099-01-01' }, 'tools/list', params, { headers: { 'mcp-method': 'tools/list' } });
}

/** Polls tasks/get until the task leaves `working` (bounded by the number of polls, not by time). */
async function pollTask(client: ModernMcpClient, taskId: string): Promise<TaskView> {
  for (let poll = 0; poll < 400; poll++) {
    const view = await client.getTask(taskId);
    if (view.task.status !== 'working') return view;
    await new Promise((r) => setTimeout(r, view.task.pollIntervalMs ?? 50));
  }
  throw new Error(`task ${taskId} still working after 400 polls`);
}

describe('era detection', () => {
  it('a 2026-07-28-only server is modern, and server/discover says it offers the tasks extension', async () => {
    const era = await probeEra(http(modern.url));
    expect(era.protocol).toBe('2026-07-28');
    expect(era.protocol === '2026-07-28' && era.discover).toMatchObject({ supportedVersions: ['2026-07-28'], tasks: true });
  });

  it('a dual-era server is modern, and still serves the 2025-11-25 initialize path mcpq uses today', async () => {
    const era = await probeEra(http(dual.url));
    expect(era.protocol).toBe('2026-07-28');
    const session = await http(dual.url).initialize();
    expect(session).toMatchObject({ protocol: '2025-11-25', protocolVersion: '2025-11-25' });
  });

  it('an SDK 1.x server (2025-11-25) is legacy', async () => {
    const era = await probeEra(http(legacy.url));
    expect(era.protocol).toBe('2025-11-25');
  });

  it('an unreachable server is an error, not an era, and the cache probes again next time', async () => {
    const gone = await startServer2026({ era: 'modern' });
    const client = http(gone.url);
    await gone.close();
    const cache = new EraCache();
    expect((await failure(cache.get(client))).code).toBe(ErrorCode.server_unreachable);
    const back = await startServer2026({ era: 'modern', port: gone.port });
    try {
      expect((await cache.get(client)).protocol).toBe('2026-07-28');
    } finally {
      await back.close();
    }
  });

  it('the cache probes an endpoint once for concurrent callers, and again after forget', async () => {
    const cache = new EraCache();
    const client = http(dual.url);
    const [a, b] = [cache.get(client), cache.get(client)];
    expect(a).toBe(b);
    await a;
    cache.forget(dual.url);
    expect(cache.get(client)).not.toBe(a);
  });

  it('a 2026 error code from a server known as legacy, or -32022 from a modern one, says to probe again; -32020 does not', async () => {
    const refused = await failure(unsupportedVersion(modern.url));
    expect(suggestsEraChange({ protocol: '2025-11-25', reason: 'probe' }, refused)).toBe(true);
    expect(suggestsEraChange({ protocol: '2026-07-28' }, refused)).toBe(true);
    const mismatch = await failure(headerMismatch(modern.url));
    expect(suggestsEraChange({ protocol: '2026-07-28' }, mismatch)).toBe(false);
  });
});

describe('2026-07-28 requests', () => {
  it('tools/call streams its progress notifications in order on the POST answer, then the result', async () => {
    const client = new ModernMcpClient(http(modern.url));
    const progress: JsonRpcNotification[] = [];
    const { message } = call('slow', { durationMs: 200, steps: 4 });
    const end = await client.callTool(message, { onMessage: (m) => progress.push(m) });
    expect(end.kind).toBe('complete');
    expect(end.kind === 'complete' && textOf(end.result)).toBe('slow done after 4 steps');
    expect(progress.map((m) => [m.method, m.params?.progress])).toEqual([1, 2, 3, 4].map((p) => ['notifications/progress', p]));
  });

  it('an argument marked x-mcp-header is mirrored into Mcp-Param-*, base64-encoded when not plain ASCII (the server checks it)', async () => {
    const client = new ModernMcpClient(http(dual.url));
    for (const region of ['us-west1', 'Zürich', ' padded ']) {
      const end = await client.callTool(call('regional', { region, query: 'q' }).message);
      expect(end.kind === 'complete' && textOf(end.result)).toBe(`${region}: q`);
    }
  });

  it('headers that disagree with the body (-32020) are a protocol_error carrying the JSON-RPC code', async () => {
    const err = await failure(headerMismatch(modern.url));
    expect(err.code).toBe(ErrorCode.protocol_error);
    expect(err.data).toMatchObject({ httpStatus: 400, jsonrpcCode: -32020 });
  });

  it('a version the server does not serve (-32022) is a protocol_error listing the versions it does', async () => {
    const err = await failure(unsupportedVersion(modern.url));
    expect(err.code).toBe(ErrorCode.protocol_error);
    expect(err.data).toMatchObject({ httpStatus: 400, jsonrpcCode: -32022, data: { supported: ['2026-07-28'] } });
  });

  it('a tool needing a capability mcpq did not declare (-32021) is client_capability_required', async () => {
    const err = await failure(new ModernMcpClient(http(modern.url)).callTool(call('confirm', { action: 'deploy' }).message));
    expect(err.code).toBe(ErrorCode.client_capability_required);
    expect(err.data).toMatchObject({ jsonrpcCode: -32021 });
  });

  it('an input_required answer is parsed into the server inputRequests', async () => {
    const client = new ModernMcpClient(http(modern.url), { capabilities: { elicitation: { form: {} } } });
    const end = await client.callTool(call('confirm', { action: 'deploy' }).message);
    expect(end).toMatchObject({ kind: 'input_required', inputRequests: { confirm: { method: 'elicitation/create' } } });
  });

  it('a GET on a 2026-07-28 endpoint is refused with 405 (no standalone stream, no resumption)', async () => {
    const err = await failure(http(modern.url).resume(MODERN_SESSION, 'any-event-id'));
    expect(err.code).toBe(ErrorCode.protocol_error);
    expect(err.data).toMatchObject({ httpStatus: 405 });
  });

  it('closing the tools/call stream cancels the call on the server (the 2026-07-28 cancel)', async () => {
    const client = new ModernMcpClient(http(modern.url));
    const { callId, message } = call('slow', { durationMs: 20_000, steps: 200 });
    const stop = new AbortController();
    const res = await client.openCall(message, { signal: stop.signal });
    await new Promise((resolve) => res.once('data', resolve)); // the first progress event: the tool runs
    stop.abort();
    await waitFor('the server to see the call cancelled', () => modern.stats().streamCancelled.includes(callId));
    expect(modern.stats().executions.slow?.[callId]).toBe(1);
  });
});

describe('the tasks extension', () => {
  it('tools/call declaring the extension gets a flat task; tasks/get polls it to the inline result', async () => {
    const client = new ModernMcpClient(http(modern.url));
    const { callId, message } = call('task_slow', { durationMs: 300 });
    const end = await client.callTool(message, { tasks: true });
    if (end.kind !== 'task') throw new Error(`expected a task, got ${end.kind}`);
    expect(end.task).toMatchObject({ status: 'working', ttlMs: 60_000, pollIntervalMs: 50 });
    const view = await pollTask(client, end.task.taskId);
    expect(view.task.status).toBe('completed');
    expect(textOf(view.result)).toBe(`task ${callId} done`);
    expect(modern.stats().executions.task_slow?.[callId]).toBe(1);
  });

  it('the same tool without the extension declared answers synchronously', async () => {
    const end = await new ModernMcpClient(http(modern.url)).callTool(call('task_slow', { durationMs: 10 }).message);
    expect(end.kind).toBe('complete');
  });

  it('a failed task carries its JSON-RPC error inline in tasks/get', async () => {
    const client = new ModernMcpClient(http(dual.url));
    const end = await client.callTool(call('task_slow', { durationMs: 10, fail: true }).message, { tasks: true });
    if (end.kind !== 'task') throw new Error(`expected a task, got ${end.kind}`);
    const view = await pollTask(client, end.task.taskId);
    expect(view).toMatchObject({ task: { status: 'failed' }, error: { code: -32603 } });
  });

  it('tasks/cancel is acknowledged and seen by the server; the task ends cancelled', async () => {
    const client = new ModernMcpClient(http(modern.url));
    const end = await client.callTool(call('task_slow', { durationMs: 60_000 }).message, { tasks: true });
    if (end.kind !== 'task') throw new Error(`expected a task, got ${end.kind}`);
    await client.cancelTask(end.task.taskId);
    expect(modern.stats().tasksCancelled).toContain(end.task.taskId);
    expect((await client.getTask(end.task.taskId)).task.status).toBe('cancelled');
  });

  it('a task waiting for input shows its inputRequests in tasks/get; tasks/update answers them and the task completes', async () => {
    const client = new ModernMcpClient(http(modern.url));
    const end = await client.callTool(call('task_slow', { durationMs: 10, askFirst: true }).message, { tasks: true });
    if (end.kind !== 'task') throw new Error(`expected a task, got ${end.kind}`);
    const waiting = await client.getTask(end.task.taskId);
    expect(waiting).toMatchObject({ task: { status: 'input_required' }, inputRequests: { go: { method: 'elicitation/create' } } });
    await client.updateTask(end.task.taskId, { go: { action: 'accept', content: { go: true } } });
    expect((await pollTask(client, end.task.taskId)).task.status).toBe('completed');
  });

  it('tasks/get on an unknown task is an upstream_error with -32602', async () => {
    const err = await failure(new ModernMcpClient(http(modern.url)).getTask('no-such-task'));
    expect(err.code).toBe(ErrorCode.upstream_error);
    expect(err.data).toMatchObject({ jsonrpcCode: -32602 });
  });
});

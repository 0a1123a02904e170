/**
 * The gateway's synchronous path, seen by an MCP host (the SDK's Client):
 * every upstream tool listed as <alias>__<tool> from the server catalog, a
 * call answered with the upstream result (isError included) and its
 * progress relayed, and clear JSON-RPC errors for what cannot be called.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { ServerCatalog } from '@mcpq/shared';
import { ENTRY, freePort, ServiceProcess } from '@mcpq/testkit';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';
import { rejectionOf } from '../helpers/assertions.js';
import { connectHost, firstText } from './gateway-helpers.js';

let h: Harness;
let host: Client;
let url: string;
let gateway: ServiceProcess;
beforeAll(async () => {
  h = await createHarness({ servers: { demo: {}, tasks: { tasks: true, taskPollMs: 200 } } });
  await h.start('submitter');
  await h.start('joiner');
  ({ url, svc: gateway } = await h.startGateway());
  host = await connectHost(url);
});
afterAll(async () => {
  await host?.close();
  await h.close();
});

const rpcError = (p: Promise<unknown>) => rejectionOf(p, McpError);

describe('gateway: tools and synchronous calls', () => {
  it('tools/list names every tool of every server <alias>__<tool>, with its schema and annotations, callable as a task', async () => {
    const { tools } = await host.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['demo__echo', 'demo__slow', 'demo__fail', 'tasks__echo', 'tasks__slow_task']));
    const echo = tools.find((t) => t.name === 'demo__echo')!;
    expect(echo.description).toBe('Returns its text at once.');
    expect(echo.inputSchema.properties).toHaveProperty('text');
    expect(echo.annotations).toMatchObject({ readOnlyHint: true, idempotentHint: true });
    expect(tools.every((t) => t.execution?.taskSupport === 'optional')).toBe(true);
  });

  it('the listing is written to the server catalog with the mode of each tool, so the next one (any replica) needs no live call', async () => {
    const catalog = await ServerCatalog.open(h.nc, h.names);
    const entry = await catalog.get('demo');
    expect(entry?.tools.map((t) => t.name)).toContain('slow');
    expect(entry?.protocol).toBe('2025-11-25');
    expect(entry?.modes).toMatchObject({ slow: 'resume', echo: 'resume' });
  });

  it('a synchronous call answers with the upstream result and relays its progress', async () => {
    const progress: number[] = [];
    const result = await host.callTool({ name: 'demo__slow', arguments: { durationMs: 600, steps: 3, label: 'sync' } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(firstText(result)).toBe('slow done: sync');
    expect(result.structuredContent).toMatchObject({ label: 'sync', steps: 3 });
    expect(progress).toEqual([1, 2, 3]);
    // The call ran once upstream, under a tenant-tagged mcpq call id.
    const runs = h.mcp.demo!.stats().executions.slow ?? {};
    expect(Object.values(runs)).toEqual([1]);
    expect(Object.keys(runs)[0]).toMatch(/^t[0-9a-f]{12}-/);
  });

  it("a host's _meta.traceparent puts the call in the host's trace (the server sees the same trace id); a malformed one is ignored", async () => {
    const traceId = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const result = await host.callTool({
      name: 'demo__echo',
      arguments: { text: 'traced' },
      _meta: { traceparent: `00-${traceId}-0123456789abcdef-01` },
    });
    expect(firstText(result)).toContain('traced');
    const seen = Object.values(h.mcp.demo!.stats().traceparents);
    expect(seen.some((t) => t.split('-')[1] === traceId)).toBe(true);
    const before = new Set(seen);
    const other = await host.callTool({ name: 'demo__echo', arguments: { text: 'untraced' }, _meta: { traceparent: 'not-a-traceparent' } });
    expect(firstText(other)).toContain('untraced');
    const fresh = Object.values(h.mcp.demo!.stats().traceparents).filter((t) => !before.has(t));
    expect(fresh).toHaveLength(1);
    expect(fresh[0]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect(fresh[0]!.split('-')[1]).not.toBe(traceId);
  });

  it('a tool error comes back as the result the server sent (isError: true), not as a JSON-RPC error', async () => {
    const result = await host.callTool({ name: 'demo__fail', arguments: { message: 'nope' } });
    expect(result.isError).toBe(true);
    expect(firstText(result)).toBe('nope');
  });

  it('a tool name that names no server or no tool is a JSON-RPC error (-32602, data.code unknown_tool)', async () => {
    for (const name of ['demo__nope', 'nowhere__echo', 'echo']) {
      const err = await rpcError(host.callTool({ name, arguments: {} }));
      expect(err.code).toBe(-32602);
      expect(err.data).toMatchObject({ code: 'unknown_tool' });
      expect(err.message).toContain(name);
    }
  });

  it('bad arguments are a JSON-RPC error (-32602, data.code invalid_arguments) naming the problem', async () => {
    const err = await rpcError(host.callTool({ name: 'demo__echo', arguments: { text: 42 } }));
    expect(err.code).toBe(-32602);
    expect(err.data).toMatchObject({ code: 'invalid_arguments' });
    expect(err.message).toContain('text');
  });

  it('an unknown task id is a JSON-RPC error (-32602), not a hang', async () => {
    for (const taskId of ['no-such-task', 'not a call id!']) {
      const err = await rpcError(host.experimental.tasks.getTask(taskId));
      expect(err.code).toBe(-32602);
    }
  });

  it('a host that disconnects mid-call cancels nothing: the call runs to its end', async () => {
    const callId = await disconnectMidCall(url);
    expect((await h.client.result(callId, { timeoutMs: 30_000 })).status).toBe('completed');
    expect(h.mcp.demo!.stats().cancelled).not.toContain(callId);
  });

  it('with gateway.cancelOnDisconnect, a host that disconnects mid-call cancels it upstream', async () => {
    const config = { ...h.config, gateway: { ...h.config.gateway, cancelOnDisconnect: true } };
    const other = await h.startGateway({ MCPQ_CONFIG: '', MCPQ_CONFIG_JSON: JSON.stringify(config) });
    const callId = await disconnectMidCall(other.url);
    expect((await h.client.result(callId, { timeoutMs: 30_000 })).status).toBe('cancelled');
    await waitFor('the server stopped the tool', () => h.mcp.demo!.stats().cancelled.includes(callId), 15_000);
  });

  it('mcpq gateway --port runs the gateway in the foreground; SIGTERM stops it with exit code 0', async () => {
    const port = await freePort();
    const httpPort = await freePort();
    const cli = new ServiceProcess('gateway', 'mcpq-gateway-cli', { ...h.env, MCPQ_HTTP_PORT: String(httpPort) }, httpPort, {
      script: ENTRY.cli,
      args: ['gateway', '--port', String(port)],
    });
    try {
      await cli.ready();
      const other = await connectHost(`http://127.0.0.1:${port}/mcp`);
      expect((await other.callTool({ name: 'demo__echo', arguments: { text: 'cli' } })).content).toEqual([{ type: 'text', text: 'cli' }]);
      await other.close();
      expect(await cli.stop()).toEqual({ code: 0, signal: null });
    } finally {
      cli.kill();
    }
  });

  it('SIGTERM: the gateway stops and exits 0', async () => {
    expect(await gateway.stop()).toEqual({ code: 0, signal: null });
  });
});

/** Starts a long synchronous call with a raw POST, waits until it runs upstream, then drops the connection; returns its call id. */
async function disconnectMidCall(gatewayUrl: string): Promise<string> {
  const before = new Set(Object.keys(h.mcp.demo!.stats().executions.slow ?? {}));
  const host = new AbortController();
  const answer = fetch(gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'demo__slow', arguments: { durationMs: 3_000, steps: 3 } },
    }),
    signal: host.signal,
  }).then((res) => res.text());
  const callId = await waitFor('the call runs upstream', () =>
    Object.keys(h.mcp.demo!.stats().executions.slow ?? {}).find((k) => !before.has(k)),
  );
  host.abort();
  await answer.catch(() => undefined);
  return callId;
}

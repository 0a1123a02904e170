/**
 * Gateway auth and tenant isolation: with `gateway.tokens`, a request needs
 * a valid bearer token (401 otherwise), and a tenant sees, gets, lists,
 * waits for and cancels only its own tasks: another tenant's task id is
 * "not found", exactly like an id that never existed. A read-only token
 * cannot call tools.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, CreateTaskResultSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { rejectionOf } from '../helpers/assertions.js';
import { connectHost } from './gateway-helpers.js';

const TOKENS = { TOKEN_A: 'token-of-tenant-a', TOKEN_B: 'token-of-tenant-b', TOKEN_RO: 'read-only-token-of-a' };

let h: Harness;
let url: string;
const hosts: Client[] = [];
beforeAll(async () => {
  h = await createHarness({
    config: {
      gateway: {
        tokens: [
          { token: { env: 'TOKEN_A' }, tenant: 'a' },
          { token: { env: 'TOKEN_B' }, tenant: 'b' },
          { token: { env: 'TOKEN_RO' }, tenant: 'a', readOnly: true },
        ],
      },
    },
    configEnv: TOKENS,
  });
  // The config names the tokens' variables: every service that loads it needs them set.
  await h.start('submitter', TOKENS);
  await h.start('joiner', TOKENS);
  ({ url } = await h.startGateway(TOKENS));
});
afterAll(async () => {
  await Promise.all(hosts.map((c) => c.close().catch(() => undefined)));
  await h.close();
});

async function host(token: string): Promise<Client> {
  const c = await connectHost(url, token);
  hosts.push(c);
  return c;
}

const rpcError = (p: Promise<unknown>) => rejectionOf(p, McpError);

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

describe('gateway: bearer tokens and tenants', () => {
  it('401 without a token or with an unknown one, and the body says a bearer token is required', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${TOKENS.TOKEN_A}`]) {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...(authorization ? { authorization } : {}),
        },
        body: JSON.stringify(initialize),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const body = (await res.json()) as { error: { message: string; data: { code: string } } };
      expect(body.error.data.code).toBe('unauthorized');
    }
  });

  it("another tenant's task is not found for get, result, cancel and list, exactly like a made-up id", async () => {
    const a = await host(TOKENS.TOKEN_A);
    const b = await host(TOKENS.TOKEN_B);
    const created = await a.request(
      { method: 'tools/call', params: { name: 'demo__slow', arguments: { durationMs: 1_500, steps: 1 }, task: { ttl: 60_000 } } },
      CreateTaskResultSchema,
    );
    const taskId = created.task.taskId;
    // Per method, the answer for another tenant's id is the answer for an id that never existed.
    const madeUp = 'made-up-id';
    const methods = [
      (id: string) => b.experimental.tasks.getTask(id),
      (id: string) => b.experimental.tasks.getTaskResult(id, CallToolResultSchema),
      (id: string) => b.experimental.tasks.cancelTask(id),
    ];
    for (const method of methods) {
      const theirs = await rpcError(method(taskId));
      const none = await rpcError(method(madeUp));
      expect(theirs.code).toBe(-32602);
      expect({ code: theirs.code, message: theirs.message.replace(taskId, 'ID'), data: theirs.data }).toEqual({
        code: none.code,
        message: none.message.replace(madeUp, 'ID'),
        data: none.data,
      });
    }
    expect((await b.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).not.toContain(taskId);
    // The owner sees it, and it still runs to the end (b's cancel did nothing).
    const result = await a.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    expect(result.isError).toBeFalsy();
    expect((await a.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toContain(taskId);
  });

  it('a read-only token lists tools but cannot call one', async () => {
    const ro = await host(TOKENS.TOKEN_RO);
    expect((await ro.listTools()).tools.length).toBeGreaterThan(0);
    const err = await rpcError(ro.callTool({ name: 'demo__echo', arguments: { text: 'x' } }));
    expect(err.data).toMatchObject({ code: 'forbidden' });
  });
});

/**
 * The gateway's tool directory asks each server in its protocol era: a
 * 2026-07-28-only server (no initialize) and a dual-era one are listed and
 * callable through the gateway, and the server catalog entry written for
 * each says protocol 2026-07-28 with the mode each tool gets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ServerCatalog } from '@mcpq/shared';
import { createHarness, type Harness } from '../helpers/harness.js';
import { connectHost, firstText } from './gateway-helpers.js';

let h: Harness;
let host: Client;
beforeAll(async () => {
  h = await createHarness({
    servers: { modern: { era: 'modern' }, dual: { era: 'dual' }, modernResume: { era: 'modern', mode: 'resume' } },
  });
  await h.start('submitter');
  await h.start('joiner');
  host = await connectHost((await h.startGateway()).url);
});
afterAll(async () => {
  await host?.close();
  await h?.close();
});

describe('gateway: servers of the 2026-07-28 era', () => {
  it('tools/list names the tools of a 2026-07-28-only server and of a dual-era one', async () => {
    const names = (await host.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['modern__slow', 'modern__task_slow', 'dual__slow', 'dual__task_slow']));
  });

  it.each(['modern', 'dual'])('a call to a tool of the %s server completes with its result, the tool run once', async (alias) => {
    const result = await host.callTool({ name: `${alias}__slow`, arguments: { durationMs: 300, steps: 2 } });
    expect(firstText(result)).toBe('slow done after 2 steps');
    expect(Object.values(h.mcp2026[alias]!.stats().executions.slow ?? {})).toEqual([1]);
  });

  it.each(['modern', 'dual'])('the catalog entry of the %s server says protocol 2026-07-28 and the mode of each tool', async (alias) => {
    const entry = await (await ServerCatalog.open(h.nc, h.names)).get(alias);
    expect(entry).toMatchObject({ alias, protocol: '2026-07-28', serverInfo: { name: `mcpq-example-2026-${alias}` } });
    expect(entry!.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'slow', 'task_slow']));
    // The server offers the tasks extension and the configured mode is auto: every tool gets task.
    expect(entry!.modes).toEqual(Object.fromEntries(entry!.tools.map((t) => [t.name, 'task'])));
  });

  it('a tool whose mode cannot be chosen (resume forced on 2026-07-28) is listed but has no mode in the entry', async () => {
    const entry = await (await ServerCatalog.open(h.nc, h.names)).get('modernResume');
    expect(entry?.protocol).toBe('2026-07-28');
    expect(entry!.tools.map((t) => t.name)).toContain('slow');
    expect(entry!.modes).toEqual({});
  });
});

/**
 * The gateway reads servers' answers under the configured
 * limits.maxResponseBytes like every other reader: its tool listing used to
 * fall back to a built-in cap (16 MiB). A tools/list answer past the
 * configured cap comes from FaultProxy (a fault injector in front of a real
 * example server); the server is left out of the listing, the others stay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { ServiceProcess } from '@mcpq/testkit';
import { jsonRpcReply } from '../helpers/fault-proxy.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { connectHost } from './gateway-helpers.js';

let h: Harness;
let gateway: ServiceProcess;
let host: Client;
beforeAll(async () => {
  h = await createHarness({ servers: { demo: {}, big: { proxied: true } }, config: { limits: { maxResponseBytes: 65_536 } } });
  // Every tools/list of `big` answers one valid tool whose description alone is past the cap.
  h.proxies.big!.inject({
    match: 'tools/list',
    action: {
      kind: 'respond',
      body: jsonRpcReply({ result: { tools: [{ name: 'huge', description: 'd'.repeat(200_000), inputSchema: { type: 'object' } }] } }),
    },
  });
  let url: string;
  ({ svc: gateway, url } = await h.startGateway());
  host = await connectHost(url);
});
afterAll(async () => {
  await host?.close().catch(() => undefined);
  await h?.close();
});

describe('gateway: answers read under limits.maxResponseBytes', () => {
  it('a tools/list answer past the cap leaves that server out of the listing, with the reason logged; the others are listed', async () => {
    const names = (await host.listTools()).tools.map((t) => t.name);
    expect(names).toContain('demo__echo');
    expect(names.filter((n) => n.startsWith('big__'))).toEqual([]);
    expect(h.proxies.big!.count('tools/list', 'respond')).toBeGreaterThanOrEqual(1);
    const why = gateway.logs((l) => l.server === 'big' && l.msg === 'cannot list the tools of the server');
    expect(why.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(why[0]!.err)).toMatch(/response_too_large|limits\.maxResponseBytes/);
  });
});

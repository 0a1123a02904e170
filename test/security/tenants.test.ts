/**
 * Two tenants, each a NATS account with its own prefix (the layout
 * `mcpq accounts --tenant TENANT_A=ta --tenant TENANT_B=tb` prints). The
 * services serve both from their own account; a caller of tenant B tries to
 * read, cancel, pre-cancel and squat tenant A's calls and cannot: A's calls
 * end with their one right result.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { natsAccountsConfig, tenantApiPrefix } from '@mcpq/shared';
import { startAccountsRun, type AccountsRun, type Caller } from '../helpers/accounts.js';
import { waitFor } from '../helpers/harness.js';

let run: AccountsRun;
let a: Caller;
let b: Caller;
const refused = /Permissions Violation|no responders|timeout/i;

beforeAll(async () => {
  const conf = natsAccountsConfig({
    tenants: [
      { account: 'TENANT_A', prefix: 'ta' },
      { account: 'TENANT_B', prefix: 'tb' },
    ],
  });
  run = await startAccountsRun(conf, ['ta', 'tb']);
  await run.startServices('ta');
  await run.startServices('tb');
  a = await run.caller('ta');
  b = await run.caller('tb');
});
afterAll(async () => {
  await run?.close();
});

describe('tenant accounts', () => {
  it("tenant B cannot read, cancel, pre-cancel or squat tenant A's calls; A's calls end with their one right result", async () => {
    const running = await a.client.submit('demo', 'slow', { durationMs: 2_000, steps: 2, label: 'a-running' }, { callId: 'shared-1' });
    await waitFor('A’s call runs', async () => (await a.client.status(running.callId))?.status === 'running');

    // Read: A's record, result and events, through A's names and B's own API prefix.
    const bjs = jetstream(b.nc, { apiPrefix: tenantApiPrefix('tb'), timeout: 2_000 });
    const bjsA = jetstream(b.nc, { apiPrefix: tenantApiPrefix('ta'), timeout: 2_000 });
    await expect(bjs.jetstreamManager().then((m) => m.streams.info('TA_EVENTS'))).rejects.toThrow(refused);
    await expect(
      bjsA.jetstreamManager().then((m) => m.direct.getMessage('KV_ta_calls', { last_by_subj: '$KV.ta_calls.shared-1' })),
    ).rejects.toThrow(refused);
    await expect(b.nc.request('$JS.API.DIRECT.GET.KV_ta_calls.$KV.ta_calls.shared-1', '', { timeout: 2_000 })).rejects.toThrow(refused);
    const seen: string[] = [];
    const spy = b.nc.subscribe('ta.call.>', { callback: (err, m) => void (err ? undefined : seen.push(m.subject)) });
    // Cancel A's running call; pre-cancel an id A will use; squat an id A will use.
    await expect(b.nc.request('ta.cancel.shared-1', '{}', { timeout: 2_000 })).rejects.toThrow(refused);
    await expect(b.nc.request('ta.cancel.shared-2', '{}', { timeout: 2_000 })).rejects.toThrow(refused);
    await expect(
      bjsA.publish('ta.submit.demo', JSON.stringify({ callId: 'shared-3', tool: 'echo', arguments: { text: 'squat' } }), {
        msgID: 'shared-3',
      }),
    ).rejects.toThrow(refused);
    // B's own namespace is B's: the same ids there are B's own calls and touch nothing of A's.
    expect(await b.client.cancel('shared-1')).toMatchObject({ accepted: true, status: 'cancelled' });
    expect(await b.client.cancel('shared-2')).toMatchObject({ accepted: true, status: 'cancelled' });
    await b.client.submit('demo', 'echo', { text: 'b-squat' }, { callId: 'shared-3' });
    expect((await b.client.result('shared-3', { timeoutMs: 30_000 })).result).toMatchObject({ content: [{ text: 'b-squat' }] });

    // A's calls: the running one completes, and the ids B tried to take are A's to use.
    const first = await a.client.result('shared-1', { timeoutMs: 30_000 });
    expect(first).toMatchObject({ status: 'completed', result: { content: [{ text: 'slow done: a-running' }] } });
    for (const [id, text] of [
      ['shared-2', 'a-second'],
      ['shared-3', 'a-third'],
    ] as const) {
      await a.client.submit('demo', 'echo', { text }, { callId: id });
      expect(await a.client.result(id, { timeoutMs: 30_000 })).toMatchObject({ status: 'completed', result: { content: [{ text }] } });
    }
    await spy.drain().catch(() => undefined);
    expect(seen).toEqual([]);
    for (const id of ['shared-1', 'shared-2', 'shared-3']) {
      expect((await run.h.storedEvents(id)).results).toHaveLength(1); // the harness's own names are tenant A's
    }
  });

  it('the services of both tenants ran under their own users without a permission error', () => {
    for (const s of run.h.services) {
      expect(s.raw.filter((l) => /Permissions Violation|permission/i.test(l))).toEqual([]);
      expect(s.running).toBe(true);
    }
  });
});

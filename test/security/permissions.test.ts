/**
 * mcpq under exactly the least-privilege accounts and users of
 * docs/nats-permissions.conf: an admin provisions, the services run with
 * their own users, and a caller (in its own account) can submit, watch, wait
 * and cancel, but cannot hand a job to the joiners, write a call record or
 * publish a result. The file is what `mcpq accounts` prints.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { ENTRY, REPO_ROOT } from '@mcpq/testkit';
import { tenantApiPrefix } from '@mcpq/shared';
import { startAccountsRun, type AccountsRun, type Caller } from '../helpers/accounts.js';
import { waitFor } from '../helpers/harness.js';

const conf = readFileSync(`${REPO_ROOT}docs/nats-permissions.conf`, 'utf8');
let run: AccountsRun;
let caller: Caller;

beforeAll(async () => {
  run = await startAccountsRun(conf, ['mcpq']);
  await run.startServices('mcpq');
  caller = await run.caller('mcpq');
});
afterAll(async () => {
  await run?.close();
});

describe('least privilege', () => {
  it('docs/nats-permissions.conf is what `mcpq accounts` prints for the default prefix', () => {
    const printed = spawnSync(process.execPath, [ENTRY.cli, 'accounts'], { env: { ...process.env, MCPQ_CONFIG: '', MCPQ_PREFIX: '' }, encoding: 'utf8' });
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
    expect((await run.h.client.list({ status: 'completed' })).length).toBeGreaterThan(0);
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

  it('the services needed no permission beyond theirs', () => {
    for (const s of run.h.services) {
      expect(s.raw.filter((l) => /Permissions Violation|permission/i.test(l))).toEqual([]);
      expect(s.running).toBe(true);
    }
  });
});

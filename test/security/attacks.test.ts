/**
 * A caller attacks other callers' calls, under the least-privilege accounts
 * of docs/nats-permissions.conf (the caller user only). Every answer mcpq or
 * JetStream sends goes to the reply subject the requester names, and NATS
 * permissions cannot restrict it: the caller aims it at subjects only mcpq
 * may write (a call record, the control subjects, a result, the JetStream
 * API, the join queue). Each attack must fail with nothing lost: the victim
 * call ends with its one right result and every record still reads.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headers } from '@nats-io/nats-core';
import { REPO_ROOT } from '@mcpq/testkit';
import { tenantApiPrefix } from '@mcpq/shared';
import { startAccountsRun, type AccountsRun, type Caller } from '../helpers/accounts.js';
import { waitFor } from '../helpers/harness.js';

let run: AccountsRun;
let victim: Caller;
let attacker: Caller;

beforeAll(async () => {
  run = await startAccountsRun(readFileSync(`${REPO_ROOT}docs/nats-permissions.conf`, 'utf8'), ['mcpq']);
  await run.startServices('mcpq');
  victim = await run.caller('mcpq');
  attacker = await run.caller('mcpq');
});
afterAll(async () => {
  await run?.close();
});

/** Subjects only mcpq or JetStream may write, as reply subjects aimed at the victim's call. */
function weapons(callId: string): string[] {
  return [
    `$KV.mcpq_calls.${callId}`,
    `mcpq.ctl.cancel.${callId}`,
    `mcpq.call.${callId}.result`,
    `mcpq.call.${callId}.status`,
    '$JS.API.STREAM.PURGE.MCPQ_EVENTS',
    '$JS.API.STREAM.DELETE.MCPQ_EVENTS',
    '$JS.API.STREAM.PURGE.KV_mcpq_calls',
    `$JS.API.STREAM.MSG.DELETE.KV_mcpq_calls`,
    'mcpq.join.demo',
  ];
}

describe('reply subjects aimed at another caller’s call (least privilege)', () => {
  it('submissions, cancel requests and JetStream API requests with weaponised reply subjects change nothing: the victim ends with its one right result', async () => {
    const { callId } = await victim.client.submit('demo', 'slow', { durationMs: 3_000, steps: 3, label: 'victim' });
    await waitFor('the victim runs', async () => (await victim.client.status(callId))?.status === 'running');

    const nc = attacker.nc;
    const api = tenantApiPrefix('mcpq');
    let n = 0;
    for (const reply of weapons(callId)) {
      // A real submission: JetStream's PubAck goes to the reply subject.
      const request = { callId: `atk-${++n}`, tool: 'echo', arguments: { text: 'x' } };
      const h = headers();
      h.set('Nats-Msg-Id', request.callId);
      nc.publish('mcpq.submit.demo', JSON.stringify(request), { reply, headers: h });
      // A cancel of the attacker's own call and of an id that does not exist: the joiner answers on the reply subject.
      nc.publish(`mcpq.cancel.atk-${n}`, '{}', { reply });
      nc.publish(`mcpq.cancel.nobody-${n}`, '{}', { reply });
      // JetStream API requests the caller may make: their answers go to the reply subject too.
      nc.publish(`${api}.STREAM.INFO.MCPQ_EVENTS`, '', { reply });
      nc.publish(`${api}.DIRECT.GET.KV_mcpq_calls`, JSON.stringify({ last_by_subj: `$KV.mcpq_calls.${callId}` }), { reply });
      nc.publish(`${api}.DIRECT.GET.MCPQ_EVENTS`, JSON.stringify({ last_by_subj: `mcpq.call.${callId}.status` }), { reply });
    }
    await nc.flush();

    const result = await victim.client.result(callId, { timeoutMs: 30_000 });
    expect(result).toMatchObject({ callId, status: 'completed' });
    expect(result.result).toMatchObject({ content: [{ type: 'text', text: 'slow done: victim' }] });
    const stored = await run.h.storedEvents(callId);
    expect(stored.results).toHaveLength(1);
    expect(stored.progress.map((p) => p.seq)).toEqual([1, 2, 3]);
    // The victim's record still reads, and says what happened.
    expect(await run.h.record(callId)).toMatchObject({ status: 'completed' });
    // The attacker's own submissions ran as ordinary calls, each with its record.
    for (let i = 1; i <= n; i++) {
      const r = await victim.client.result(`atk-${i}`, { timeoutMs: 30_000 });
      expect(['completed', 'cancelled'], JSON.stringify(r)).toContain(r.status);
    }
    // Nothing was purged, deleted or queued behind mcpq's back.
    const jsm = await run.h.jsm();
    await waitFor('the join queue is empty', async () => (await jsm.streams.info('MCPQ_JOIN')).state.messages === 0);
    expect(await run.h.deadLetters()).toEqual([]); // a PubAck queued as a join would have been dead-lettered
    expect((await jsm.streams.info('KV_mcpq_calls')).state.messages).toBeGreaterThanOrEqual(n + 1);
  });

  it('a caller cannot hand a job to the joiners, write a call record, publish on a call subject or a control subject', async () => {
    const refused = /Permissions Violation/i;
    const nc = attacker.nc;
    for (const subject of [
      'mcpq.join.demo',
      'mcpq.call.forged.result',
      '$KV.mcpq_calls.forged',
      'mcpq.ctl.cancel.forged',
      'mcpq.ctl.taskstatus.demo',
    ]) {
      await expect(nc.request(subject, '{}', { timeout: 2_000 })).rejects.toThrow(refused);
    }
    expect(await run.h.record('forged')).toBeUndefined();
  });

  it('the services needed no permission beyond theirs and answered only to inboxes', () => {
    for (const s of run.h.services) {
      expect(s.raw.filter((l) => /Permissions Violation|permission/i.test(l))).toEqual([]);
      expect(s.running).toBe(true);
    }
  });
});

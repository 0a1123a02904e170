/**
 * On a server without accounts anyone may publish anywhere, so mcpq itself
 * must not trust a message for what its subject says: a control message is a
 * hint and the call record is the truth, a message on a result subject is not
 * a result until the record says so, a reply goes only to an inbox, and
 * JetStream refuses a second result for a call however late it comes.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { ENTRY } from '@mcpq/testkit';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({
    servers: { demo: {}, hanging: { proxied: true, settings: { requestTimeoutMs: 120_000 } } },
    config: { streams: { duplicateWindowMs: 1_000 } },
  });
  await h.start('submitter');
  await h.start('joiner');
});
afterAll(async () => {
  await h?.close();
});

async function runningCall(label: string, server = 'demo', durationMs = 3_000): Promise<string> {
  const { callId } = await h.client.submit(server, 'slow', { durationMs, steps: 3, label });
  await waitFor(`${callId} running`, async () => (await h.record(callId))?.status === 'running');
  return callId;
}

async function expectRightResult(callId: string, label: string): Promise<void> {
  const result = await h.client.result(callId, { timeoutMs: 30_000 });
  expect(result).toMatchObject({ callId, status: 'completed', result: { content: [{ type: 'text', text: `slow done: ${label}` }] } });
  expect(await h.record(callId)).toMatchObject({ status: 'completed' });
}

describe('a control message is a hint; the record is the truth', () => {
  it('a forged cancel hint does not make the joiner let go of a running call: it ends with its one right result', async () => {
    const callId = await runningCall('hinted');
    h.nc.publish(h.names.controlCancel(callId));
    // The same hint sent by JetStream itself: a submission whose reply subject is the control subject.
    h.nc.publish(h.names.submit('demo'), JSON.stringify({ callId: `${callId}-x`, tool: 'echo', arguments: { text: 'x' } }), {
      reply: h.names.controlCancel(callId),
    });
    await expectRightResult(callId, 'hinted');
    expect((await h.storedEvents(callId)).results).toHaveLength(1);
  });
});

describe('a reply goes only to an inbox', () => {
  it('a cancel request whose reply subject names another call’s record leaves that record intact', async () => {
    const callId = await runningCall('record-target');
    h.nc.publish(h.names.cancel('no-such-call-1'), '{}', { reply: `$KV.${h.names.bucket}.${callId}` });
    h.nc.publish(h.names.cancel('no-such-call-2'), '{}', { reply: h.names.call(callId, 'result') });
    await h.nc.flush();
    await expectRightResult(callId, 'record-target');
  });
});

describe('junk on an event subject neither hides nor replaces a result', () => {
  it('a forged result published before the real one: result(), watch() and `mcpq result` give the real one', async () => {
    const callId = await runningCall('forged-result');
    const live = h.watch(callId, 30_000); // a watcher following the call while the junk arrives
    const forged = {
      callId,
      status: 'failed',
      error: { code: 'forged', message: 'not from mcpq' },
      attempts: 1,
      startedAt: '',
      finishedAt: '',
    };
    await h.js.publish(h.names.call(callId, 'result'), JSON.stringify(forged), { msgID: `${callId}.result` });
    h.nc.publish(h.names.call(callId, 'result'), 'not even JSON');
    await expectRightResult(callId, 'forged-result');
    for (const events of [await live, await h.watch(callId, 30_000)]) {
      expect(events.at(-1)).toMatchObject({
        type: 'result',
        status: 'completed',
        result: { content: [{ text: 'slow done: forged-result' }] },
      });
      expect(events.filter((e) => e.type === 'result')).toHaveLength(1);
    }
    const cli = spawnSync(process.execPath, [ENTRY.cli, 'result', callId, '--json'], {
      env: { ...process.env, ...h.env },
      encoding: 'utf8',
    });
    expect(cli.status).toBe(0);
    expect(JSON.parse(cli.stdout.trim().split('\n').at(-1)!)).toMatchObject({ callId, status: 'completed' });
  });

  it('a refused write of the record that says the call ended, then junk on the result subject: result() still waits for the real end', async () => {
    const callId = await runningCall('refused-write');
    const waiting = h.client.result(callId, { timeoutMs: 30_000 });
    await h.client.nc.flush(); // result() listens now
    const record = await h.record(callId);
    const forged = { ...record, status: 'cancelled', result: { callId, status: 'cancelled', attempts: 1, startedAt: '', finishedAt: '' } };
    const headers = natsHeaders();
    headers.set('Nats-Expected-Last-Subject-Sequence', '999999999'); // not the record's last: JetStream refuses the write
    await expect(h.js.publish(h.names.record(callId), JSON.stringify(forged), { headers })).rejects.toThrow(/wrong last sequence/i);
    h.nc.publish(h.names.call(callId, 'result'), JSON.stringify(forged.result));
    await h.nc.flush();
    const result = await waiting;
    expect(result).toMatchObject({
      callId,
      status: 'completed',
      result: { content: [{ type: 'text', text: 'slow done: refused-write' }] },
    });
    expect(await h.record(callId)).toMatchObject({ status: 'completed' });
  });

  it('junk published after the result does not replace it', async () => {
    const { callId } = await h.client.submit('demo', 'echo', { text: 'kept' });
    expect((await h.client.result(callId, { timeoutMs: 30_000 })).status).toBe('completed');
    await h.js.publish(
      h.names.call(callId, 'result'),
      JSON.stringify({ callId, status: 'cancelled', attempts: 9, startedAt: '', finishedAt: '' }),
    );
    const result = await h.client.result(callId, { timeoutMs: 10_000 });
    expect(result).toMatchObject({ status: 'completed', result: { content: [{ type: 'text', text: 'kept' }] } });
  });
});

describe('exactly one result, whatever the time since the first', () => {
  it('a join redelivered after the duplicate window (1 s here) republishes nothing: JetStream refuses a second result and the join is done', async () => {
    const { callId } = await h.client.submit('demo', 'echo', { text: 'once' });
    expect((await h.client.result(callId, { timeoutMs: 30_000 })).status).toBe('completed');
    await new Promise((r) => setTimeout(r, 1_500)); // past the duplicate window
    // A late delivery of the call's join (a parked or stalled joiner's message coming back).
    const late = await h.js.publish(h.names.join('demo'), JSON.stringify({ callId, server: 'demo', mode: 'resume' }));
    const jsm = await h.jsm();
    // The join stream is a work queue: an acknowledged join is gone from it.
    await waitFor(
      'the late join was acknowledged',
      async () => !(await jsm.streams.getMessage(h.names.streams.join, { seq: late.seq }).catch(() => null)),
    );
    expect((await h.storedEvents(callId)).results).toHaveLength(1);
    expect(await h.deadLetters()).toEqual([]);
  });
});

describe('the cancel reply says what mcpq did, at once', () => {
  it('a cancel is answered although the MCP server never answers the cancellation', async () => {
    h.proxies.hanging!.inject({ match: 'notifications/cancelled', action: { kind: 'hang' } });
    const callId = await runningCall('slow-server', 'hanging', 60_000);
    // The server would hold the cancel reply for requestTimeoutMs (120 s); the caller waits 10 s.
    const reply = await h.client.cancel(callId, { timeoutMs: 10_000 });
    expect(reply).toMatchObject({ callId, accepted: true, status: 'cancelled' });
    expect((await h.client.result(callId, { timeoutMs: 10_000 })).status).toBe('cancelled');
  });
});

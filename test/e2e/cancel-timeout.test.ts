/**
 * Cancellation and deadlines in every mode and state: the call ends with
 * exactly one result of status cancelled / timeout, and the MCP server saw
 * the cancellation (its tool stopped: counted in the example server's stats).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kvm } from '@nats-io/kv';
import { CallStore } from '@mcpq/shared';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';
import { expectOneResult } from '../helpers/assertions.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({
    servers: { resume: {}, tasks: { tasks: true, taskPollMs: 200 }, plain: { eventStore: false } },
  });
  await h.start('submitter');
  await h.start('joiner');
});
afterAll(async () => {
  await h.close();
});

const modes = [
  { mode: 'resume', server: 'resume', tool: 'slow' },
  { mode: 'task', server: 'tasks', tool: 'slow_task' },
  { mode: 'hold', server: 'plain', tool: 'slow' },
] as const;

async function startLongCall(server: string, tool: string, options: { timeoutMs?: number } = {}) {
  const { callId } = await h.client.submit(server, tool, { durationMs: 20_000, steps: 20 }, options);
  await waitFor(`${callId} running upstream`, () => Object.values(h.mcp[server]!.stats().executions).some((byKey) => byKey[callId] === 1));
  return callId;
}

const oneResult = (callId: string, status: string, code?: string) => expectOneResult(h, callId, status, code);

describe.each(modes)('$mode mode', ({ mode, server, tool }) => {
  it('cancel of a running call: one cancelled result, and the MCP server saw the cancellation', async () => {
    const callId = await startLongCall(server, tool);
    await waitFor('the call is followed', async () => ['running', 'dispatching'].includes((await h.record(callId))?.status ?? ''));
    const reply = await h.client.cancel(callId, { reason: 'test' });
    expect(reply).toMatchObject({ callId, accepted: true, status: 'cancelled' });
    const result = await oneResult(callId, 'cancelled', 'cancelled');
    expect(result.mode).toBe(mode);
    await waitFor('the server stopped the tool', () => h.mcp[server]!.stats().cancelled.includes(callId), 10_000);
  });

  it('timeoutMs: the call ends timeout at its deadline and is cancelled upstream', async () => {
    const callId = await startLongCall(server, tool, { timeoutMs: 2_000 });
    const result = await oneResult(callId, 'timeout', 'timeout');
    expect(result.mode).toBe(mode);
    expect(Date.parse(result.finishedAt) - Date.parse(result.startedAt)).toBeLessThan(15_000);
    await waitFor('the server stopped the tool', () => h.mcp[server]!.stats().cancelled.includes(callId), 10_000);
  });
});

describe('cancel in other states', () => {
  it('cancelling a finished call replies that it is already terminal', async () => {
    const { callId } = await h.client.submit('resume', 'echo', { text: 'done' });
    expect((await h.client.result(callId, { timeoutMs: 20_000 })).status).toBe('completed');
    const reply = await h.client.cancel(callId);
    expect(reply).toMatchObject({ accepted: false, status: 'completed' });
    expect((await h.storedEvents(callId)).results).toHaveLength(1);
  });

  it('a call cancelled while still queued never runs', async () => {
    const submitter = h.services.find((s) => s.kind === 'submitter')!;
    await submitter.stop();
    const { callId } = await h.client.submit('resume', 'slow', { durationMs: 1_000, steps: 1 });
    const reply = await h.client.cancel(callId);
    expect(reply).toMatchObject({ accepted: true, status: 'cancelled' });
    await h.start('submitter');
    await oneResult(callId, 'cancelled', 'cancelled');
    // The submitter took the queued request and dropped it: the submit queue is empty and the tool never ran.
    await waitFor('submit queue drained', async () => (await (await h.jsm()).streams.info(h.names.streams.submit)).state.messages === 0);
    expect(h.mcp.resume!.stats().executions.slow?.[callId]).toBeUndefined();
  });

  it('a submission taken while its cancel is being recorded (record accepted with the cancel, not ended yet) is dropped, not dead-lettered', async () => {
    // The cancel path creates the record `accepted` with the cancel, then ends it `cancelled`. A submitter
    // that took the call in between saw an `accepted` record it had not made: it dead-lettered the
    // submission as a duplicate callId (seen in CI under load: test/security/attacks.test.ts).
    const callId = `mid-cancel-${Date.now().toString(36)}`;
    const store = new CallStore(await new Kvm(h.nc).open(h.names.bucket));
    const cancel = { at: new Date().toISOString(), reason: 'test' };
    expect(await store.create({ callId, server: '', tool: '', status: 'accepted', idempotent: false, cancel })).not.toBeNull();
    await h.client.submit('resume', 'slow', { durationMs: 1_000, steps: 1 }, { callId });
    await waitFor('submit queue drained', async () => (await (await h.jsm()).streams.info(h.names.streams.submit)).state.messages === 0);
    expect((await h.deadLetters()).filter((d) => d.callId === callId)).toEqual([]);
    expect(h.mcp.resume!.stats().executions.slow?.[callId]).toBeUndefined();
    // What the cancel path does next: the call ends cancelled, once.
    expect(await h.client.cancel(callId)).toMatchObject({ status: 'cancelled' });
    await oneResult(callId, 'cancelled', 'cancelled');
  });

  it('a call dispatched but not yet joined (no joiner running) is cancelled upstream from its record', async () => {
    const joiner = h.services.find((s) => s.kind === 'joiner' && s.running)!;
    await joiner.stop();
    const { callId } = await h.client.submit('resume', 'slow', { durationMs: 20_000, steps: 20 });
    await waitFor('dispatched', async () => (await h.record(callId))?.status === 'dispatched');
    // Nobody follows the call; another joiner process answers the cancel.
    await h.start('joiner');
    const reply = await h.client.cancel(callId);
    expect(reply).toMatchObject({ accepted: true, status: 'cancelled' });
    await oneResult(callId, 'cancelled', 'cancelled');
    await waitFor('the server stopped the tool', () => h.mcp.resume!.stats().cancelled.includes(callId), 10_000);
    // The join left the queue too: the joiner found the call ended and acknowledged it.
    await waitFor('join queue drained', async () => (await (await h.jsm()).streams.info(h.names.streams.join)).state.messages === 0);
  });

  it('a deadline that passes while the call waits in the queue ends it timeout without running it', async () => {
    const submitter = h.services.find((s) => s.kind === 'submitter' && s.running)!;
    await submitter.stop();
    const { callId } = await h.client.submit('resume', 'slow', { durationMs: 1_000, steps: 1 }, { timeoutMs: 300 });
    await new Promise((r) => setTimeout(r, 600));
    await h.start('submitter');
    await oneResult(callId, 'timeout', 'timeout');
    expect(h.mcp.resume!.stats().executions.slow?.[callId]).toBeUndefined();
  });
});

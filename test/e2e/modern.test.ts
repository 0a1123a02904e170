/**
 * mcpq's guarantees against MCP 2026-07-28 servers built with the official
 * SDK v2 (examples/mcp-server-2026): one that serves 2026-07-28 only and
 * one dual-era server (2026-07-28 and 2025-11-25), for which mcpq picks
 * 2026-07-28 (its server/discover answers). Modes stay task / hold; the
 * era is the call's `protocol`. Real nats-server, real submitter and joiner
 * processes.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTRY } from '@mcpq/testkit';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';
import { expectOneResult } from '../helpers/assertions.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({
    servers: {
      modern: { era: 'modern' },
      dual: { era: 'dual' },
      modernHold: { era: 'modern', mode: 'hold' },
      modernResume: { era: 'modern', mode: 'resume' },
    },
    // A short park lease: a SIGKILLed joiner's parked calls come back when it ends.
    config: { joiner: { pollMinMs: 100, pollMaxMs: 1_000, parkLeaseMs: 3_000 }, streams: { duplicateWindowMs: 1_000 } },
  });
  await h.start('submitter');
  await h.start('joiner');
});
afterAll(async () => {
  await h?.close();
});

const text = (r: Record<string, unknown> | undefined) => (r?.content as Array<{ text?: string }> | undefined)?.[0]?.text;
const stats = (alias: string) => h.mcp2026[alias]!.stats();

const oneResult = (callId: string, status: string, code?: string) => expectOneResult(h, callId, status, code);

async function runningJoiner() {
  return h.services.find((s) => s.kind === 'joiner' && s.running)!;
}

describe.each(['modern', 'dual'] as const)('%s server (mcpq speaks 2026-07-28 with it)', (alias) => {
  it('a call with progress completes; the record, the status events and status() say protocol 2026-07-28', async () => {
    const { callId } = await h.client.submit(alias, 'slow', { durationMs: 600, steps: 3 });
    const events = await h.watch(callId);
    expect(events.filter((e) => e.type === 'progress').map((e) => e.seq)).toEqual([1, 2, 3]);
    const result = events.at(-1)!;
    expect(result).toMatchObject({ type: 'result', status: 'completed', mode: 'task' });
    expect(result.type === 'result' && text(result.result)).toBe('slow done after 3 steps');
    const statuses = events.filter((e) => e.type === 'status');
    expect(statuses.map((e) => e.type === 'status' && e.status)).toEqual(expect.arrayContaining(['dispatched', 'running']));
    for (const s of statuses) expect(s).toMatchObject({ protocol: '2026-07-28' });
    expect(await h.client.status(callId)).toMatchObject({ protocol: '2026-07-28', mode: 'task', status: 'completed' });
    expect(stats(alias).executions.slow?.[callId]).toBe(1);
  });

  it('a tool the server makes a task: the joiner records the task id, parks, and takes the result from tasks/get', async () => {
    const { callId } = await h.client.submit(alias, 'task_slow', { durationMs: 800 });
    const result = await oneResult(callId, 'completed');
    expect(text(result.result)).toBe(`task ${callId} done`);
    const rec = await h.record(callId);
    expect(rec).toMatchObject({ mode: 'task', protocol: '2026-07-28', taskTtlMs: 60_000 });
    expect(rec!.taskId).toBeTruthy();
    expect(stats(alias).methods).toContain('tasks/get');
    expect(stats(alias).executions.task_slow?.[callId]).toBe(1);
  });
});

describe('task mode (tasks extension)', () => {
  it('a task whose joiner is SIGKILLed while the call is parked completes on another joiner with one result, the tool run once', async () => {
    const first = await runningJoiner();
    const { callId } = await h.client.submit('modern', 'task_slow', { durationMs: 4_000 });
    await waitFor('the task recorded', async () => (await h.record(callId))?.taskId);
    first.kill('SIGKILL');
    await first.exited;
    await h.start('joiner');
    const result = await oneResult(callId, 'completed');
    expect(text(result.result)).toBe(`task ${callId} done`);
    expect(stats('modern').executions.task_slow?.[callId]).toBe(1);
  });

  it('a failed task ends failed with the server error', async () => {
    const { callId } = await h.client.submit('modern', 'task_slow', { durationMs: 100, fail: true });
    const result = await oneResult(callId, 'failed', 'upstream_error');
    expect(result.error?.message).toContain('failed on request');
  });

  it('cancel of a parked task: one cancelled result, and the server got tasks/cancel', async () => {
    const { callId } = await h.client.submit('modern', 'task_slow', { durationMs: 20_000 });
    const taskId = await waitFor('the task recorded', async () => (await h.record(callId))?.taskId);
    expect(await h.client.cancel(callId, { reason: 'test' })).toMatchObject({ accepted: true, status: 'cancelled' });
    await oneResult(callId, 'cancelled', 'cancelled');
    await waitFor('the server saw tasks/cancel', () => stats('modern').tasksCancelled.includes(taskId), 10_000);
  });

  it('timeoutMs: the task ends timeout at its deadline and the server got tasks/cancel', async () => {
    const { callId } = await h.client.submit('modern', 'task_slow', { durationMs: 20_000 }, { timeoutMs: 2_000 });
    const taskId = await waitFor('the task recorded', async () => (await h.record(callId))?.taskId);
    await oneResult(callId, 'timeout', 'timeout');
    await waitFor('the server saw tasks/cancel', () => stats('modern').tasksCancelled.includes(taskId), 10_000);
  });

  it('a task waiting for input: a status carries the inputRequests, and the call waits (here until its deadline)', async () => {
    const { callId } = await h.client.submit('modern', 'task_slow', { durationMs: 100, askFirst: true }, { timeoutMs: 3_000 });
    const events = await h.watch(callId);
    const asking = events.find((e) => e.type === 'status' && e.detail?.startsWith('input_required'));
    expect(asking).toMatchObject({ protocol: '2026-07-28', inputRequests: { go: { method: 'elicitation/create' } } });
    expect(events.at(-1)).toMatchObject({ type: 'result', status: 'timeout' });
  });
});

describe('hold mode (no tasks)', () => {
  it('a held call reports progress and completes', async () => {
    const { callId } = await h.client.submit('modernHold', 'slow', { durationMs: 600, steps: 3 });
    const events = await h.watch(callId);
    expect(events.filter((e) => e.type === 'progress').map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(events.at(-1)).toMatchObject({ type: 'result', status: 'completed', mode: 'hold' });
    expect(await h.record(callId)).toMatchObject({ protocol: '2026-07-28', mode: 'hold' });
  });

  async function heldCall(options: { timeoutMs?: number } = {}) {
    const { callId } = await h.client.submit('modernHold', 'slow', { durationMs: 20_000, steps: 20 }, options);
    await waitFor(`${callId} running upstream`, () => stats('modernHold').executions.slow?.[callId] === 1);
    return callId;
  }

  it('cancel of a held call: one cancelled result, and the server saw its stream close', async () => {
    const callId = await heldCall();
    expect(await h.client.cancel(callId)).toMatchObject({ accepted: true, status: 'cancelled' });
    const result = await oneResult(callId, 'cancelled', 'cancelled');
    expect(result.mode).toBe('hold');
    await waitFor('the server cancelled the tool', () => stats('modernHold').streamCancelled.includes(callId), 10_000);
  });

  it('timeoutMs: a held call ends timeout at its deadline, and the server saw its stream close', async () => {
    const callId = await heldCall({ timeoutMs: 2_000 });
    await oneResult(callId, 'timeout', 'timeout');
    await waitFor('the server cancelled the tool', () => stats('modernHold').streamCancelled.includes(callId), 10_000);
  });

  it('a held call whose joiner is SIGKILLed ends outcome_unknown, the tool run once (and cancelled by the closed stream)', async () => {
    const first = await runningJoiner();
    const callId = await heldCall();
    first.kill('SIGKILL');
    await first.exited;
    await h.start('joiner');
    const result = await oneResult(callId, 'failed', 'outcome_unknown');
    expect(result.error?.message).toContain('2026-07-28');
    expect(stats('modernHold').executions.slow?.[callId]).toBe(1);
    await waitFor('the server cancelled the tool', () => stats('modernHold').streamCancelled.includes(callId), 10_000);
  });

  it('a tool answering input_required ends client_capability_required (SDK 2.4 refuses to ask a client that declared nothing)', async () => {
    const { callId } = await h.client.submit('modernHold', 'confirm', { action: 'deploy' });
    await oneResult(callId, 'failed', 'client_capability_required');
    expect(stats('modernHold').executions.confirm).toBeUndefined();
  });
});

describe('calls that must not run twice, or cannot run', () => {
  it('a duplicate submission of the same callId runs the tool once', async () => {
    const { callId } = await h.client.submit('modern', 'count', { tag: 'dup' }, { callId: 'modern-dup-1' });
    expect((await h.client.result(callId, { timeoutMs: 30_000 })).status).toBe('completed');
    // After the duplicate window (1 s here) the stream lets a copy through; the KV claim catches it.
    await new Promise((r) => setTimeout(r, 1_200));
    await h.js.publish(h.names.submit('modern'), JSON.stringify({ callId, tool: 'count', arguments: { tag: 'dup' } }), { msgID: callId });
    const dlq = await waitFor('the duplicate dead-lettered', async () => (await h.deadLetters()).find((d) => d.callId === callId));
    expect(dlq.code).toBe('duplicate_call_id');
    expect(stats('modern').executions.count).toMatchObject({ [callId]: 1 });
    expect((await h.storedEvents(callId)).results).toHaveLength(1);
  });

  it('resume mode forced on a 2026-07-28 server is mode_unsupported at dispatch; an unknown tool is unknown_tool', async () => {
    const forced = await h.client.submit('modernResume', 'echo', { text: 'x' });
    const r = await oneResult(forced.callId, 'failed', 'mode_unsupported');
    expect(r.error?.message).toMatch(/no stream resumption/);
    const unknown = await h.client.submit('modern', 'no_such_tool', {});
    await oneResult(unknown.callId, 'failed', 'unknown_tool');
  });
});

describe('mcpq servers', () => {
  it('shows the protocol era of each server and the mode its tools get in it', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [ENTRY.cli, 'servers', '--json'], {
      env: { ...process.env, MCPQ_CONFIG: h.configPath, MCPQ_CONFIG_JSON: '' },
      timeout: 30_000,
    });
    const rows = stdout
      .split('\n')
      .filter(Boolean)
      .map(
        (l) => JSON.parse(l) as { alias: string; protocolVersion: string; tasks: boolean; tools: Array<{ name: string; mode: string }> },
      );
    const byAlias = Object.fromEntries(rows.map((r) => [r.alias, r]));
    for (const alias of ['modern', 'dual']) {
      expect(byAlias[alias]).toMatchObject({ protocolVersion: '2026-07-28', tasks: true });
      expect(byAlias[alias]!.tools.find((t) => t.name === 'task_slow')?.mode).toBe('task');
    }
    expect(byAlias.modernHold!.tools.find((t) => t.name === 'slow')?.mode).toBe('hold');
    expect(byAlias.modernResume!.tools.find((t) => t.name === 'slow')?.mode).toMatch(/^unsupported: .*no stream resumption/);
  });
});

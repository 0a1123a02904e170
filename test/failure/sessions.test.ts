/**
 * Lost sessions: the MCP server restarts and forgets every session, stream
 * and task. A call that can no longer be rejoined ends `session_lost`; an
 * idempotent one is started again in a fresh session.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function runningOn(callId: string) {
  await waitFor(`${callId} followed`, async () => (await h!.record(callId))?.status === 'running');
}

describe('the MCP server restarts mid-call', () => {
  it('resume mode: a non-idempotent call ends failed / session_lost', async () => {
    h = await createHarness();
    await h.start('submitter');
    await h.start('joiner');
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 8_000, steps: 8 });
    await runningOn(callId);
    await h.restartMcp('demo');
    const r = await h.client.result(callId, { timeoutMs: 60_000 });
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('session_lost');
    expect(r.attempts).toBe(1);
  });

  it('resume mode: an idempotent call is dispatched again in a fresh session and completes (attempts 2)', async () => {
    h = await createHarness();
    await h.start('submitter');
    await h.start('joiner');
    const { callId } = await h.client.submit('demo', 'slow_idempotent', { durationMs: 3_000, steps: 3, label: 'again' });
    await runningOn(callId);
    const before = (await h.record(callId))!.sessionId;
    await h.restartMcp('demo');
    const r = await h.client.result(callId, { timeoutMs: 60_000 });
    expect(r.status).toBe('completed');
    expect(r.attempts).toBe(2);
    expect((await h.record(callId))!.sessionId).not.toBe(before);
    // The new server instance ran it once; the events show the re-dispatch.
    expect(h.mcp.demo!.stats().executions.slow_idempotent![callId]).toBe(1);
    const statuses = (await h.storedEvents(callId)).status;
    expect(statuses.some((s) => s.status === 'dispatched' && s.attempt === 2 && /lost the session/.test(s.detail ?? ''))).toBe(true);
  });

  it('task mode: the server forgot the task: failed / session_lost', async () => {
    h = await createHarness({ servers: { tasks: { tasks: true, taskPollMs: 200 } } });
    await h.start('submitter');
    await h.start('joiner');
    const { callId } = await h.client.submit('tasks', 'slow_task', { durationMs: 8_000, steps: 4 });
    await runningOn(callId);
    await h.restartMcp('tasks');
    const r = await h.client.result(callId, { timeoutMs: 60_000 });
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('session_lost');
  });
});

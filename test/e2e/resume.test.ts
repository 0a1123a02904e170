/**
 * Resume mode end to end: real nats-server, a real SDK-built MCP server with
 * an event store, submitter and joiners as child processes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const slow = (label: string, durationMs = 2_000) => ({ durationMs, steps: 5, label });

function textOf(result: Record<string, unknown> | undefined): string | undefined {
  const content = result?.content as Array<{ type: string; text?: string }> | undefined;
  return content?.[0]?.text;
}

describe('resume mode', () => {
  it('20 calls of a 2 s tool: the submitter detaches (KV says dispatched while the tool runs), each call yields 5 progress events in order and one result', async () => {
    h = await createHarness();
    await h.start('submitter');
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await h.client.submit('demo', 'slow', slow(`call-${i}`, 3_000))).callId);

    // No joiner yet: the calls are dispatched and running upstream with nobody holding them.
    const records = await waitFor('all 20 records dispatched', async () => {
      const recs = await Promise.all(ids.map((id) => h!.record(id)));
      return recs.every((r) => r?.status === 'dispatched') ? recs : undefined;
    });
    const stats = h.mcp.demo!.stats();
    expect(stats.started).toBe(20);
    expect(stats.completed).toBeLessThan(20);
    for (const r of records) {
      expect(r!.mode).toBe('resume');
      expect(r!.lastEventId).toBeTruthy();
      expect(r!.sessionId).toBeTruthy();
    }

    await h.start('joiner');
    const outcomes = await Promise.all(ids.map((id) => h!.watch(id)));
    outcomes.forEach((events, i) => {
      const progress = events.filter((e) => e.type === 'progress');
      expect(progress.map((p) => p.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(progress.map((p) => p.progress)).toEqual([1, 2, 3, 4, 5]);
      const results = events.filter((e) => e.type === 'result');
      expect(results).toHaveLength(1);
      expect(results[0]!.status).toBe('completed');
      expect(textOf(results[0]!.result)).toBe(`slow done: call-${i}`);
      expect(events.at(-1)!.type).toBe('result');
    });
    for (const id of ids) {
      const stored = await h.storedEvents(id);
      expect(stored.results).toHaveLength(1);
      expect(stored.progress).toHaveLength(5);
      expect((await h.record(id))!.status).toBe('completed');
    }
    expect(Object.values(h.mcp.demo!.stats().executions.slow!)).toEqual(Array(20).fill(1));
  });

  it('stopping the submitter right after dispatch does not stop the calls', async () => {
    h = await createHarness();
    const submitter = await h.start('submitter');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await h.client.submit('demo', 'slow', slow(`s-${i}`))).callId);
    await waitFor('records dispatched', async () => {
      const recs = await Promise.all(ids.map((id) => h!.record(id)));
      return recs.every((r) => r?.status === 'dispatched');
    });
    const exit = await submitter.stop();
    expect(exit.code).toBe(0);

    await h.start('joiner');
    for (const id of ids) {
      const result = await h.client.result(id, { timeoutMs: 30_000 });
      expect(result.status).toBe('completed');
    }
    // Nothing was cancelled upstream when the submitter left.
    expect(h.mcp.demo!.stats().cancelled).toEqual([]);
  });

  it('SIGKILL of the joiner mid-call: a second joiner finishes every call, no progress event or result is published twice', async () => {
    h = await createHarness();
    await h.start('submitter');
    const first = await h.start('joiner');
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await h.client.submit('demo', 'slow', { durationMs: 5_000, steps: 5, label: `k-${i}` })).callId);
    // Every call is being followed by the first joiner and has published some progress.
    await waitFor('progress on every call', async () => {
      const stored = await Promise.all(ids.map((id) => h!.storedEvents(id)));
      return stored.every((s) => s.progress.length >= 2);
    });
    first.kill('SIGKILL');
    await first.exited;
    const second = await h.start('joiner');

    for (const [i, id] of ids.entries()) {
      const result = await h.client.result(id, { timeoutMs: 60_000 });
      expect(result.status).toBe('completed');
      expect(textOf(result.result)).toBe(`slow done: k-${i}`);
    }
    for (const id of ids) {
      const stored = await h.storedEvents(id);
      expect(stored.results).toHaveLength(1);
      expect(stored.progress.map((p) => p.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(new Set(stored.progress.map((p) => p.progress)).size).toBe(5);
      const rec = await h.record(id);
      expect(rec!.owner).toContain(`-${second.pid}-`);
    }
    // The tool ran once per call: the takeover rejoined, it did not re-run.
    expect(Object.values(h.mcp.demo!.stats().executions.slow!)).toEqual(Array(10).fill(1));
  });

  it('a duplicate submission of the same callId starts the tool once', async () => {
    h = await createHarness({ config: { streams: { duplicateWindowMs: 1_000 } } });
    await h.start('submitter');
    await h.start('joiner');
    const { callId } = await h.client.submit('demo', 'slow', slow('dup', 1_000), { callId: 'dup-call-1' });
    // Within the duplicate window the stream itself drops it, and the client says so.
    await expect(h.client.submit('demo', 'slow', slow('dup', 1_000), { callId })).rejects.toMatchObject({ code: 'duplicate_call_id' });
    // After the duplicate window (1 s here) the stream lets a copy through; the KV claim catches it.
    await new Promise((r) => setTimeout(r, 1_200));
    const late = await h.js.publish(h.names.submit('demo'), JSON.stringify({ callId, tool: 'slow', arguments: slow('dup', 1_000) }), {
      msgID: callId,
    });
    expect(late.duplicate).toBe(false);
    const result = await h.client.result(callId, { timeoutMs: 30_000 });
    expect(result.status).toBe('completed');
    const dlq = await waitFor('the duplicate dead-lettered', async () => (await h!.deadLetters()).find((d) => d.callId === callId));
    expect(dlq.code).toBe('duplicate_call_id');
    expect(dlq.subject).toBe(h.names.submit('demo'));
    expect(JSON.parse(dlq.payload!).callId).toBe(callId);
    expect(h.mcp.demo!.stats().executions.slow).toEqual({ [callId]: 1 });
    expect((await h.storedEvents(callId)).results).toHaveLength(1);
  });
});

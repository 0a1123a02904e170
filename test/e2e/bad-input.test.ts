/**
 * Bad submissions get a clear, specific error — a failed result when the
 * callId is usable, a dead letter with the original payload otherwise — and
 * nothing else is lost: the submitter keeps running and a good call
 * submitted right after completes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';
import type { ServiceProcess } from '@mcpq/testkit';

let h: Harness;
let submitter: ServiceProcess;

beforeAll(async () => {
  h = await createHarness({ config: { limits: { maxArgumentsBytes: 1_024 }, streams: { duplicateWindowMs: 1_000 } } });
  submitter = await h.start('submitter');
  await h.start('joiner');
});
afterAll(async () => {
  await h.close();
});

const publishRaw = (server: string, payload: string | Uint8Array, msgID?: string) =>
  h.js.publish(h.names.submit(server), payload, msgID ? { msgID } : {});

async function failedResult(callId: string) {
  const result = await h.client.result(callId, { timeoutMs: 20_000 });
  expect(result.status).toBe('failed');
  return result.error!;
}

async function deadLetterFor(seq: number) {
  return waitFor(`dead letter for submit seq ${seq}`, async () => (await h.deadLetters()).find((d) => d.seq === seq), 20_000);
}

describe('bad input', () => {
  it('a payload that is not JSON is dead-lettered on <prefix>.dlq.submit with the original payload', async () => {
    const ack = await publishRaw('demo', 'this is { not json');
    const dl = await deadLetterFor(ack.seq);
    expect(dl.code).toBe('invalid_request');
    expect(dl.reason).toBe('submit');
    expect(dl.message).toMatch(/not JSON/);
    expect(dl.payload).toBe('this is { not json');
  });

  it('a binary payload is dead-lettered with the payload in base64', async () => {
    const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0x80]);
    const ack = await publishRaw('demo', bytes);
    const dl = await deadLetterFor(ack.seq);
    expect(dl.code).toBe('invalid_request');
    expect(Buffer.from(dl.payloadBase64!, 'base64')).toEqual(Buffer.from(bytes));
  });

  it('a schema-invalid request with a usable callId gets a failed result with invalid_request', async () => {
    await publishRaw('demo', JSON.stringify({ callId: 'bad-schema-1', tool: 'slow', timeoutMs: 'soon' }), 'bad-schema-1');
    const error = await failedResult('bad-schema-1');
    expect(error.code).toBe('invalid_request');
    expect(error.message).toMatch(/timeoutMs/);
  });

  it('an unknown field is refused (typos do not pass silently)', async () => {
    await publishRaw('demo', JSON.stringify({ callId: 'bad-schema-2', tool: 'slow', args: {} }), 'bad-schema-2');
    const error = await failedResult('bad-schema-2');
    expect(error.code).toBe('invalid_request');
    expect(error.message).toMatch(/args/);
  });

  it('a schema-invalid request without a usable callId is dead-lettered', async () => {
    const ack = await publishRaw('demo', JSON.stringify({ callId: 'has.dots', tool: 'slow' }));
    const dl = await deadLetterFor(ack.seq);
    expect(dl.code).toBe('invalid_request');
    expect(dl.message).toMatch(/callId/);
  });

  it('an unknown server alias gets unknown_server', async () => {
    await publishRaw('nowhere', JSON.stringify({ callId: 'unknown-server-1', tool: 'slow' }), 'unknown-server-1');
    const error = await failedResult('unknown-server-1');
    expect(error.code).toBe('unknown_server');
    expect(error.message).toMatch(/nowhere/);
  });

  it('an unknown tool gets unknown_tool (checked against tools/list, not left to the server)', async () => {
    const { callId } = await h.client.submit('demo', 'no_such_tool', {});
    const error = await failedResult(callId);
    expect(error.code).toBe('unknown_tool');
    expect(error.message).toMatch(/no_such_tool/);
  });

  it('arguments over limits.maxArgumentsBytes get arguments_too_large', async () => {
    const { callId } = await h.client.submit('demo', 'echo', { text: 'x'.repeat(2_000) });
    const error = await failedResult(callId);
    expect(error.code).toBe('arguments_too_large');
  });

  it('a callId already used is dead-lettered with duplicate_call_id and the first call keeps its one result', async () => {
    const { callId } = await h.client.submit('demo', 'echo', { text: 'first' });
    const first = await h.client.result(callId, { timeoutMs: 20_000 });
    expect(first.status).toBe('completed');
    // After the stream's duplicate window (1 s here) JetStream no longer drops it: the KV claim must.
    await new Promise((r) => setTimeout(r, 1_200));
    const ack = await publishRaw('demo', JSON.stringify({ callId, tool: 'echo', arguments: { text: 'second' } }), callId);
    expect(ack.duplicate).toBe(false);
    const dl = await deadLetterFor(ack.seq);
    expect(dl.code).toBe('duplicate_call_id');
    const stored = await h.storedEvents(callId);
    expect(stored.results).toHaveLength(1);
    expect((stored.results[0]!.result!.content as Array<{ text: string }>)[0]!.text).toBe('first');
  });

  it('after all of that the submitter still runs and a good call completes', async () => {
    expect(submitter.running).toBe(true);
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 500, steps: 2, label: 'good' });
    const result = await h.client.result(callId, { timeoutMs: 20_000 });
    expect(result.status).toBe('completed');
    expect(submitter.logs((l) => l.level === 'fatal')).toEqual([]);
  });
});

/**
 * A corpus of bad submissions. Each yields its specific error — a failed
 * result when it names a usable, unused callId, a dead letter otherwise —
 * no service restarts, and a good call right after still completes.
 */
import { headers as natsHeaders } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';
import type { ServiceProcess } from '@mcpq/testkit';

let h: Harness;
let services: ServiceProcess[];
beforeAll(async () => {
  h = await createHarness({ config: { limits: { maxArgumentsBytes: 2_048 }, streams: { duplicateWindowMs: 1_000 } } });
  services = [await h.start('submitter'), await h.start('joiner')];
});
afterAll(async () => {
  await h.close();
});

type Expect = { result: string; message?: RegExp } | { deadLetter: string; message?: RegExp };
interface Case {
  name: string;
  payload: string | Uint8Array | ((id: string) => string);
  /** Nats-Msg-Id to send: the case's id (default), none, or another value. */
  msgId?: 'id' | 'none' | string;
  server?: string;
  /** Extra subject tokens after the server alias. */
  subjectTail?: string;
  expect: Expect;
}

const req = (fields: Record<string, unknown>) => (id: string) => JSON.stringify({ callId: id, ...fields });

const cases: Case[] = [
  { name: 'not JSON', payload: 'tool=echo&text=hi', expect: { deadLetter: 'invalid_request', message: /not JSON/ } },
  { name: 'an empty payload', payload: '', expect: { deadLetter: 'invalid_request', message: /not JSON/ } },
  { name: 'binary bytes', payload: new Uint8Array([0, 159, 146, 150, 255]), expect: { deadLetter: 'invalid_request', message: /UTF-8/ } },
  { name: 'JSON null', payload: 'null', expect: { deadLetter: 'invalid_request' } },
  { name: 'a JSON array', payload: '[{"callId":"x","tool":"echo"}]', expect: { deadLetter: 'invalid_request' } },
  { name: 'a JSON number', payload: '42', expect: { deadLetter: 'invalid_request' } },
  { name: 'a JSON string', payload: '"call echo"', expect: { deadLetter: 'invalid_request' } },
  { name: 'no callId', payload: '{"tool":"echo"}', expect: { deadLetter: 'invalid_request', message: /callId/ } },
  { name: 'an empty callId', payload: '{"callId":"","tool":"echo"}', expect: { deadLetter: 'invalid_request', message: /callId/ } },
  { name: 'a callId with a dot', payload: '{"callId":"a.b","tool":"echo"}', expect: { deadLetter: 'invalid_request', message: /callId/ } },
  {
    name: 'a callId of 65 characters',
    payload: JSON.stringify({ callId: 'x'.repeat(65), tool: 'echo' }),
    expect: { deadLetter: 'invalid_request' },
  },
  { name: 'a numeric callId', payload: '{"callId":12345,"tool":"echo"}', expect: { deadLetter: 'invalid_request' } },
  {
    name: 'an extra subject token',
    payload: req({ tool: 'echo' }),
    subjectTail: 'extra',
    expect: { deadLetter: 'invalid_request', message: /submit/ },
  },
  { name: 'no tool', payload: req({}), expect: { result: 'invalid_request', message: /tool/ } },
  { name: 'a tool that is not a string', payload: req({ tool: 7 }), expect: { result: 'invalid_request', message: /tool/ } },
  { name: 'an empty tool name', payload: req({ tool: '' }), expect: { result: 'invalid_request', message: /tool/ } },
  { name: 'a tool name of 300 characters', payload: req({ tool: 't'.repeat(300) }), expect: { result: 'invalid_request', message: /256/ } },
  {
    name: 'arguments that are an array',
    payload: req({ tool: 'echo', arguments: ['hi'] }),
    expect: { result: 'invalid_request', message: /arguments/ },
  },
  {
    name: 'arguments that are a string',
    payload: req({ tool: 'echo', arguments: 'text=hi' }),
    expect: { result: 'invalid_request', message: /arguments/ },
  },
  {
    name: 'a negative timeoutMs',
    payload: req({ tool: 'echo', timeoutMs: -1 }),
    expect: { result: 'invalid_request', message: /timeoutMs/ },
  },
  {
    name: 'a timeoutMs that is a string',
    payload: req({ tool: 'echo', timeoutMs: '30s' }),
    expect: { result: 'invalid_request', message: /timeoutMs/ },
  },
  {
    name: 'a fractional timeoutMs',
    payload: req({ tool: 'echo', timeoutMs: 1.5 }),
    expect: { result: 'invalid_request', message: /timeoutMs/ },
  },
  {
    name: 'idempotent that is not a boolean',
    payload: req({ tool: 'echo', idempotent: 'yes' }),
    expect: { result: 'invalid_request', message: /idempotent/ },
  },
  { name: 'meta that is not an object', payload: req({ tool: 'echo', meta: 'x' }), expect: { result: 'invalid_request', message: /meta/ } },
  {
    name: 'a reserved meta key',
    payload: req({ tool: 'echo', meta: { 'io.mcpq/callId': 'other' } }),
    expect: { result: 'invalid_request', message: /reserved/ },
  },
  {
    name: 'an unknown field (a typo)',
    payload: req({ tool: 'echo', argument: { text: 'hi' } }),
    expect: { result: 'invalid_request', message: /argument/ },
  },
  {
    name: 'no Nats-Msg-Id header',
    payload: req({ tool: 'echo' }),
    msgId: 'none',
    expect: { result: 'invalid_request', message: /Nats-Msg-Id header is missing/ },
  },
  {
    name: 'a Nats-Msg-Id that is not the callId',
    payload: req({ tool: 'echo' }),
    msgId: 'someone-else',
    expect: { result: 'invalid_request', message: /must equal the callId/ },
  },
  {
    name: 'arguments over limits.maxArgumentsBytes',
    payload: req({ tool: 'echo', arguments: { text: 'y'.repeat(5_000) } }),
    expect: { result: 'arguments_too_large' },
  },
  {
    name: 'an unknown server alias',
    payload: req({ tool: 'echo' }),
    server: 'elsewhere',
    expect: { result: 'unknown_server', message: /elsewhere/ },
  },
  { name: 'an unknown tool', payload: req({ tool: 'rm_rf' }), expect: { result: 'unknown_tool', message: /rm_rf/ } },
  {
    name: "arguments of the wrong type for the tool's inputSchema",
    payload: req({ tool: 'slow', arguments: { durationMs: 'long' } }),
    expect: { result: 'invalid_arguments', message: /durationMs/ },
  },
  {
    name: "arguments outside the tool's inputSchema bounds",
    payload: req({ tool: 'slow', arguments: { steps: -1 } }),
    expect: { result: 'invalid_arguments', message: /steps/ },
  },
  {
    name: 'a required argument missing',
    payload: req({ tool: 'echo', arguments: {} }),
    expect: { result: 'invalid_arguments', message: /text/ },
  },
];

describe('bad-input corpus', () => {
  it(`has at least 25 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  it.each(cases.map((c, i) => ({ ...c, id: `corpus-${i}` })))('$name', async (c) => {
    const subject = h.names.submit(c.server ?? 'demo') + (c.subjectTail ? `.${c.subjectTail}` : '');
    const payload = typeof c.payload === 'function' ? c.payload(c.id) : c.payload;
    const hdrs = natsHeaders();
    const msgId = c.msgId === undefined || c.msgId === 'id' ? c.id : c.msgId === 'none' ? undefined : c.msgId;
    if (msgId) hdrs.set('Nats-Msg-Id', msgId);
    const ack = await h.js.publish(subject, payload, { headers: hdrs });
    if ('result' in c.expect) {
      const r = await h.client.result(c.id, { timeoutMs: 20_000 });
      expect(r.status).toBe('failed');
      expect(r.error?.code).toBe(c.expect.result);
      if (c.expect.message) expect(r.error?.message).toMatch(c.expect.message);
    } else {
      const letter = await waitFor('the dead letter', async () => (await h.deadLetters()).find((d) => d.seq === ack.seq), 20_000);
      expect(letter.code).toBe(c.expect.deadLetter);
      if (c.expect.message) expect(letter.message).toMatch(c.expect.message);
      if (payload instanceof Uint8Array) expect(Buffer.from(letter.payloadBase64!, 'base64')).toEqual(Buffer.from(payload));
      else expect(letter.payload).toBe(payload);
    }
  });

  it('a callId already used (after the duplicate window) is dead-lettered and the first call keeps its one result', async () => {
    const { callId } = await h.client.submit('demo', 'echo', { text: 'first' });
    expect((await h.client.result(callId, { timeoutMs: 20_000 })).status).toBe('completed');
    await new Promise((r) => setTimeout(r, 1_200));
    const ack = await h.js.publish(h.names.submit('demo'), JSON.stringify({ callId, tool: 'echo', arguments: { text: 'again' } }), {
      msgID: callId,
    });
    const letter = await waitFor('the dead letter', async () => (await h.deadLetters()).find((d) => d.seq === ack.seq), 20_000);
    expect(letter.code).toBe('duplicate_call_id');
    expect((await h.storedEvents(callId)).results).toHaveLength(1);
  });

  it('no service restarted and a good call still completes', async () => {
    for (const s of services) {
      expect(s.running).toBe(true);
      expect(s.logs((l) => l.level === 'fatal' || l.level === 'error')).toEqual([]);
    }
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 300, steps: 1, label: 'still fine' });
    expect((await h.client.result(callId, { timeoutMs: 20_000 })).status).toBe('completed');
  });
});

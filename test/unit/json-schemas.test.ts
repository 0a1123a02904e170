/**
 * The wire contract's JSON Schemas (schemas/v1) are what the zod schemas
 * say, and the compatibility rule of docs/protocol.md holds: readers ignore
 * unknown fields, except the CallRequest, which refuses them unless listed
 * in `mayIgnore`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { CallRecordSchema, CallRequestSchema, WIRE_MESSAGES, wireJsonSchemas } from '@mcpq/shared';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = `${root}schemas/v1/`;
const at = '2026-11-27T06:17:18.949Z';

describe('JSON Schemas of the wire contract', () => {
  it('the checked-in files are exactly what the zod schemas generate (run `pnpm schemas` after changing one)', () => {
    const generated = wireJsonSchemas();
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual(Object.keys(generated).sort());
    for (const f of files) expect(JSON.parse(readFileSync(`${dir}${f}`, 'utf8')), f).toEqual(generated[f]);
  });

  it('every JSON example in docs/protocol.md is valid under one of the schemas', () => {
    const ajv = new Ajv2020({ strict: false });
    const validators = Object.values(wireJsonSchemas()).map((s) => ajv.compile(s));
    const protocol = readFileSync(`${root}docs/protocol.md`, 'utf8');
    const examples = [...protocol.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as unknown);
    const submit = /nats pub mcpq\.submit\.demo[^']*'([^']+)'/.exec(protocol);
    examples.push(JSON.parse(submit![1]!));
    expect(examples.length).toBeGreaterThanOrEqual(6);
    expect(examples.filter((e) => !validators.some((v) => v(e)))).toEqual([]);
  });

  it('a JSON Schema validator refuses what zod refuses (a callId with a dot, a negative timeoutMs)', () => {
    const ajv = new Ajv2020({ strict: false });
    const validate = ajv.compile(wireJsonSchemas()['call-request.json']!);
    expect(validate({ callId: 'c1', tool: 't', timeoutMs: 1000 })).toBe(true);
    expect(validate({ callId: 'a.b', tool: 't' })).toBe(false);
    expect(validate({ callId: 'c1', tool: 't', timeoutMs: -1 })).toBe(false);
  });
});

describe('compatibility rule', () => {
  it('a CallRequest with an unknown field is refused, naming the field', () => {
    const r = CallRequestSchema.safeParse({ callId: 'c1', tool: 't', args: { a: 1 } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toMatch(/"args"/);
  });

  it('a CallRequest may carry newer fields it lists in mayIgnore; they are ignored, the rest is kept', () => {
    const r = CallRequestSchema.parse({ callId: 'c1', tool: 't', arguments: { a: 1 }, priority: 5, mayIgnore: ['priority'] });
    expect(r).toEqual({ callId: 'c1', tool: 't', arguments: { a: 1 }, mayIgnore: ['priority'] });
    const partly = CallRequestSchema.safeParse({ callId: 'c1', tool: 't', priority: 5, region: 'eu', mayIgnore: ['priority'] });
    expect(partly.error!.issues[0]!.message).toMatch(/"region"/);
  });

  // One valid message of each kind in WIRE_MESSAGES, the contract's one list: a message added to it without a sample here fails.
  const samples: Record<string, object> = {
    'call-request': { callId: 'c1', tool: 't', arguments: { a: 1 } },
    'status-event': { callId: 'c1', status: 'running', at },
    'progress-event': { callId: 'c1', seq: 1, progress: 1, at },
    'result-event': { callId: 'c1', status: 'completed', attempts: 1, startedAt: at, finishedAt: at },
    'cancel-request': {},
    'cancel-reply': { callId: 'c1', accepted: true, status: 'cancelled' },
    'dead-letter': { reason: 'submit', code: 'invalid_request', message: 'm', subject: 's', deliveries: 1, at },
    'call-record': {
      v: 1,
      callId: 'c1',
      server: 'demo',
      tool: 't',
      status: 'running',
      idempotent: false,
      progressSeq: 0,
      attempts: 1,
      createdAt: at,
      updatedAt: at,
    },
    // A newer submitter hands a request with a newer field to an older joiner (rolling upgrade).
    'join-message': { callId: 'c1', server: 'demo', mode: 'hold', request: { callId: 'c1', tool: 't', addedInAFutureVersion: 1 } },
    'joiner-report': { id: 'host-1-abc', held: 2, parked: 1, at },
    'task-status-cue': {
      joiner: 'host-1-abc',
      session: '0123456789abcdef0123456789abcdef',
      taskId: 't1',
      status: 'completed',
      statusMessage: 'done',
    },
  };
  const newer = { addedInAFutureVersion: { any: 'thing' } };
  const validatorOf = (m: (typeof WIRE_MESSAGES)[number]) => new Ajv2020({ strict: false }).compile(wireJsonSchemas()[`${m.name}.json`]!);

  it('there is a sample of every message of the contract, and no other', () => {
    expect(Object.keys(samples).sort()).toEqual(WIRE_MESSAGES.map((m) => m.name).sort());
  });

  it.each(WIRE_MESSAGES.map((m) => [m.title, m] as const))('%s: its sample is valid, for zod and for its JSON Schema', (_, m) => {
    const validate = validatorOf(m);
    expect(m.schema.safeParse(samples[m.name]).error).toBeUndefined();
    expect(validate(samples[m.name]), JSON.stringify(validate.errors)).toBe(true);
  });

  it.each(WIRE_MESSAGES.filter((m) => m.name !== 'call-request').map((m) => [m.title, m] as const))(
    '%s is read with fields a newer mcpq added, and they are ignored or kept',
    (_, m) => {
      const read = m.schema.safeParse({ ...samples[m.name], ...newer });
      expect(read.error).toBeUndefined();
      // What the reader keeps of the known fields does not change.
      expect(read.data).toMatchObject(m.schema.parse(samples[m.name]) as object);
      expect(validatorOf(m)({ ...samples[m.name], ...newer })).toBe(true);
    },
  );

  it('a call record keeps fields it does not know, so an older process rewriting it loses nothing', () => {
    const record = { ...samples['call-record'], addedInAFutureVersion: 42 };
    const parsed = CallRecordSchema.parse(record);
    expect(JSON.parse(JSON.stringify({ ...parsed, status: 'completed' }))).toMatchObject({
      addedInAFutureVersion: 42,
      status: 'completed',
    });
  });
});

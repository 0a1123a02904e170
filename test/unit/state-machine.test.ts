import { describe, expect, it } from 'vitest';
import { canTransition, isTerminalRecord, names, publicStatus, backoffDelay, sameExceptTimestamp } from '@mcpq/shared';

describe('call record state machine', () => {
  it('allows the dispatch path and forbids leaving a terminal state', () => {
    expect(canTransition('accepted', 'dispatching')).toBe(true);
    expect(canTransition('dispatching', 'dispatched')).toBe(true);
    expect(canTransition('dispatched', 'running')).toBe(true);
    expect(canTransition('running', 'completed')).toBe(true);
    expect(canTransition('accepted', 'running')).toBe(false);
    expect(canTransition('completed', 'dispatching')).toBe(false);
    expect(canTransition('running', 'accepted')).toBe(false);
    for (const t of ['completed', 'failed', 'cancelled', 'timeout'] as const) {
      expect(isTerminalRecord({ status: t })).toBe(true);
      expect(canTransition(t, 'running')).toBe(false);
      expect(canTransition(t, t)).toBe(false);
    }
  });

  it('shows accepted and dispatching as queued on the wire (a hold-mode dispatch is running)', () => {
    expect(publicStatus({ status: 'accepted' })).toBe('queued');
    expect(publicStatus({ status: 'dispatching', mode: 'resume' })).toBe('queued');
    expect(publicStatus({ status: 'dispatching', mode: 'hold' })).toBe('running');
    expect(publicStatus({ status: 'running' })).toBe('running');
  });
});

describe('names', () => {
  it('derives subjects, streams and bucket from the prefix', () => {
    const n = names('acme-1');
    expect(n.submit('demo')).toBe('acme-1.submit.demo');
    expect(n.call('c1', 'result')).toBe('acme-1.call.c1.result');
    expect(n.cancel('c1')).toBe('acme-1.cancel.c1');
    expect(n.streams).toEqual({
      submit: 'ACME_1_SUBMIT',
      join: 'ACME_1_JOIN',
      events: 'ACME_1_EVENTS',
      dlq: 'ACME_1_DLQ',
      advisories: 'ACME_1_ADVISORIES',
    });
    expect(n.advisorySubjects).toContain('$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ACME_1_SUBMIT.submitter');
    expect(n.bucket).toBe('acme-1_calls');
    expect(n.serverFromSubmitSubject('acme-1.submit.demo')).toBe('demo');
    expect(n.serverFromSubmitSubject('acme-1.submit.a.b')).toBeUndefined();
    expect(n.parseCallSubject('acme-1.call.c1.progress')).toEqual({ callId: 'c1', kind: 'progress' });
  });

  it('refuses a prefix that is not one subject token', () => {
    expect(() => names('a.b')).toThrow(/invalid prefix/);
  });
});

describe('backoffDelay', () => {
  it('doubles up to the cap and never drops below half', () => {
    expect(backoffDelay(1, 100, 1_000, () => 0)).toBe(50);
    expect(backoffDelay(1, 100, 1_000, () => 1)).toBe(100);
    expect(backoffDelay(3, 100, 1_000, () => 1)).toBe(400);
    expect(backoffDelay(10, 100, 1_000, () => 1)).toBe(1_000);
    expect(backoffDelay(10, 100, 1_000, () => 0)).toBe(500);
  });
});

describe('sameExceptTimestamp', () => {
  const base = {
    v: 1 as const,
    callId: 'c1',
    server: 's',
    tool: 't',
    status: 'dispatching' as const,
    idempotent: false,
    progressSeq: 0,
    attempts: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:01.000Z',
  };
  it('recognises a record written by this writer whatever the key order and timestamp', () => {
    const read = { ...base, requestId: 'r1', updatedAt: '2026-01-01T00:00:09.000Z' };
    const built = { requestId: 'r1', ...base, lastEventId: undefined };
    expect(sameExceptTimestamp(read, built)).toBe(true);
    expect(sameExceptTimestamp(read, { ...built, requestId: 'r2' })).toBe(false);
    expect(sameExceptTimestamp(read, { ...built, owner: 'someone' })).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { decideRerun, ErrorCode, isRefusedAnswer, type RerunInput, type RerunVerdict } from '@mcpq/shared';

const rerun: RerunVerdict = { verdict: 'rerun' };
const unknown: RerunVerdict = { verdict: 'outcome_unknown' };
const fail: RerunVerdict = { verdict: 'fail', gaveUp: false };
const gaveUp: RerunVerdict = { verdict: 'fail', gaveUp: true };

/** Every combination of the inputs, with the verdict written out by hand. */
const table: Array<[RerunInput['idempotent'], RerunInput['sent'], RerunInput['transient'], RerunInput['attemptsLeft'], RerunVerdict]> = [
  // idempotent, sent, transient, attemptsLeft -> verdict
  [false, 'no', false, false, fail],
  [false, 'no', false, true, fail],
  [false, 'no', true, false, gaveUp],
  [false, 'no', true, true, rerun],
  [false, 'maybe', false, false, unknown],
  [false, 'maybe', false, true, unknown],
  [false, 'maybe', true, false, unknown],
  [false, 'maybe', true, true, unknown],
  [false, 'yes', false, false, unknown],
  [false, 'yes', false, true, unknown],
  [false, 'yes', true, false, unknown],
  [false, 'yes', true, true, unknown],
  [true, 'no', false, false, fail],
  [true, 'no', false, true, fail],
  [true, 'no', true, false, gaveUp],
  [true, 'no', true, true, rerun],
  [true, 'maybe', false, false, fail],
  [true, 'maybe', false, true, fail],
  [true, 'maybe', true, false, gaveUp],
  [true, 'maybe', true, true, rerun],
  [true, 'yes', false, false, fail],
  [true, 'yes', false, true, fail],
  [true, 'yes', true, false, gaveUp],
  [true, 'yes', true, true, rerun],
];

describe('at-most-once: decideRerun', () => {
  it('the table covers every combination of the inputs once', () => {
    const keys = new Set(table.map(([i, s, t, a]) => `${i}/${s}/${t}/${a}`));
    expect(keys.size).toBe(2 * 3 * 2 * 2);
    expect(table).toHaveLength(keys.size);
  });

  it.each(table)('idempotent=%s sent=%s transient=%s attemptsLeft=%s', (idempotent, sent, transient, attemptsLeft, expected) => {
    expect(decideRerun({ idempotent, sent, transient, attemptsLeft, answered: false })).toEqual(expected);
  });

  it('a refused answer (too large) ends the call with its own failure, whatever the other inputs: never re-run, never outcome_unknown', () => {
    for (const [idempotent, sent, transient, attemptsLeft] of table) {
      expect(decideRerun({ idempotent, sent, transient, attemptsLeft, answered: true })).toEqual(fail);
    }
  });

  it('isRefusedAnswer: an answer larger than limits.maxResponseBytes, and nothing else', () => {
    expect(isRefusedAnswer({ code: ErrorCode.response_too_large })).toBe(true);
    for (const code of [ErrorCode.server_unreachable, ErrorCode.protocol_error, ErrorCode.upstream_error, ErrorCode.result_too_large]) {
      expect(isRefusedAnswer({ code })).toBe(false);
    }
  });

  it('a call that may have reached the server runs again only when its tool is idempotent', () => {
    for (const [idempotent, sent, , , expected] of table) {
      if (sent !== 'no' && expected.verdict === 'rerun') expect(idempotent).toBe(true);
    }
  });
});

/**
 * At-most-once, decided in one place: after a try to run a call failed (or
 * its runner vanished), may the call be run again, or must it end? Every
 * process that faces this question (the submitter's claim and dispatch, the
 * exhausted-request sweep, the joiner's hold follower and its re-dispatch of
 * a lost session) asks `decideRerun`; none decides on its own.
 *
 * The rule: a call that did not reach the server may run again when the
 * failure is transient and attempts are left. A call that may have reached
 * it runs again only when its tool is idempotent (and the failure is
 * transient, and attempts are left); a non-idempotent one ends
 * `outcome_unknown`, since the tool may or may not have run. A failure that
 * is the server's own answer, refused by mcpq (`isRefusedAnswer`), is known:
 * the tool ran, and a new run would get the same answer; the call ends with
 * that failure, neither run again nor `outcome_unknown`.
 */
import { ErrorCode, type McpqError } from '@mcpq/contract';

/** What is known about a failed try of a call. */
export interface RerunInput {
  /** The tool is idempotent (caller's flag or the tool's idempotentHint), and the request needed to re-send it is at hand. */
  idempotent: boolean;
  /**
   * Whether tools/call reached the server: `no` (certainly not: refused
   * before sending, or the record never said `dispatching`), `maybe` (sent,
   * and the answer was lost, or the sender vanished while the record said
   * `dispatching`), `yes` (it ran: the server answered and then lost it, e.g. its session).
   */
  sent: 'no' | 'maybe' | 'yes';
  /**
   * Trying again could help: a transient failure (unreachable, timeout,
   * lost session, a sender that died). A permanent failure (the server
   * refused the request) never re-runs.
   */
  transient: boolean;
  /** Another attempt is allowed (attempts below joiner.maxAttempts, or deliveries below submitter.maxDeliver). */
  attemptsLeft: boolean;
  /**
   * The failure is the server's answer itself, refused by mcpq (`isRefusedAnswer`):
   * the outcome is known. Required so that no caller forgets it: without it, a 2026-07-28
   * idempotent call re-ran its tool on every too-large answer, and a non-idempotent
   * one ended `outcome_unknown` although the server had answered.
   */
  answered: boolean;
}

export type RerunVerdict =
  /** Run the call again (a new attempt). */
  | { verdict: 'rerun' }
  /** End the call `outcome_unknown`: it may have run, and running it again could run it twice. */
  | { verdict: 'outcome_unknown' }
  /**
   * End the call failed with the failure's own error. `gaveUp`: the failure
   * was transient but no attempt is left (callers say "gave up after N attempts").
   */
  | { verdict: 'fail'; gaveUp: boolean };

export function decideRerun(input: RerunInput): RerunVerdict {
  const { idempotent, sent, transient, attemptsLeft, answered } = input;
  if (answered) return { verdict: 'fail', gaveUp: false };
  if (sent !== 'no' && !idempotent) return { verdict: 'outcome_unknown' };
  if (!transient) return { verdict: 'fail', gaveUp: false };
  return attemptsLeft ? { verdict: 'rerun' } : { verdict: 'fail', gaveUp: true };
}

/**
 * Whether `error` is a server's answer that mcpq refused to take (larger than
 * `limits.maxResponseBytes`): the server did answer, so the outcome is known.
 */
export function isRefusedAnswer(error: Pick<McpqError, 'code'>): boolean {
  return error.code === ErrorCode.response_too_large;
}

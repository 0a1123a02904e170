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
 * `outcome_unknown`, since the tool may or may not have run.
 */

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
  const { idempotent, sent, transient, attemptsLeft } = input;
  if (sent !== 'no' && !idempotent) return { verdict: 'outcome_unknown' };
  if (!transient) return { verdict: 'fail', gaveUp: false };
  return attemptsLeft ? { verdict: 'rerun' } : { verdict: 'fail', gaveUp: true };
}

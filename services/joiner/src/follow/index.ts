/**
 * Following a call: one delivery of its join, in the call's mode. Each mode
 * is one follower (one file); this picks it, and applies the two rules that
 * hold whatever the mode: a call found `dispatching` outside hold mode is a
 * joiner's re-dispatch that was interrupted, and a call whose session the
 * server lost is run again when `decideRerun` allows it.
 */
import { ErrorCode, type CallRecord, type Mode, type Versioned } from '@mcpq/shared';
import { redispatch, rerunAfterLoss } from './attempt.js';
import { failed, type Disposition, type Follower, type FollowDeps } from './common.js';
import { followHold } from './hold.js';
import { followModern, isModernCall } from './modern.js';
import { followResume } from './resume.js';
import { followTask } from './task.js';

export { CallWatch, type StopReason } from './call-watch.js';
export type { Disposition, FollowDeps, TaskToWatch } from './common.js';
export { taskNeedsFollow, unknownTaskIsLost, type WakeReason } from './task-status.js';
export { justCreatedTask } from './task.js';

/** The follower of each mode. A new mode is one more file and one more line here. */
const followers: Record<Mode, Follower> = {
  resume: followResume,
  task: followTask,
  hold: followHold,
};

/**
 * Whether this delivery finds a joiner's re-dispatch interrupted (the record
 * says `dispatching` outside hold mode). Such a call is not claimed first: the
 * re-dispatch decides what happens to it.
 */
export function interruptedRedispatch(mode: Mode, record: CallRecord): boolean {
  return mode !== 'hold' && record.status === 'dispatching';
}

/**
 * Whether the joiner itself sends this call and holds its stream (so the
 * call is not claimed first, and not handed back on shutdown): hold mode,
 * and a 2026-07-28 call that has no task yet.
 */
export function joinerHoldsCall(mode: Mode, record: CallRecord): boolean {
  return mode === 'hold' || (isModernCall(record) && !record.taskId);
}

export async function followCall(deps: FollowDeps, record: Versioned<CallRecord>, mode: Mode): Promise<Disposition> {
  // 2026-07-28 calls (task or hold mode) have their own follower, which also judges its interrupted sends.
  if (isModernCall(record.value)) return followModern(deps, record);
  const disposition = interruptedRedispatch(mode, record.value)
    ? await afterInterruptedRedispatch(deps, record)
    : await followers[mode](deps, record);
  if (
    mode !== 'hold' &&
    disposition.kind === 'outcome' &&
    disposition.outcome.error?.code === ErrorCode.session_lost &&
    rerunAfterLoss(deps, disposition.record.value, 'yes').verdict === 'rerun'
  ) {
    deps.log.warn('the MCP server lost the session; the call is idempotent: starting it again');
    return redispatch(deps, disposition.record);
  }
  return disposition;
}

/** A re-dispatch by a joiner that stopped part-way: it may have reached the server. */
async function afterInterruptedRedispatch(deps: FollowDeps, record: Versioned<CallRecord>): Promise<Disposition> {
  const verdict = rerunAfterLoss(deps, record.value, 'maybe');
  if (verdict.verdict === 'rerun') return redispatch(deps, record);
  return failed(record, {
    code: ErrorCode.outcome_unknown,
    message:
      verdict.verdict === 'fail'
        ? `gave up after ${record.value.attempts} attempts: a re-dispatch of this call was interrupted after it may have reached the server`
        : 'a re-dispatch of this call was interrupted after it may have reached the server',
  });
}

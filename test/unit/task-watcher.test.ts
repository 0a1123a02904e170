/**
 * The task watcher's two rules that need no server: when a task state seen
 * while its call is parked wakes the call (the same rule as noteTaskStatus
 * publishing), and the per-server poll budget (a clock passed in, no waiting).
 * The watcher itself runs against real servers in test/e2e/parked.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { PollBudget, taskNeedsFollow } from '@mcpq/joiner';

describe('taskNeedsFollow', () => {
  const recorded = { status: 'working', message: 'step 1' };
  it('wakes for an ended task, input_required, and a new status message only', () => {
    for (const status of ['completed', 'failed', 'cancelled']) expect(taskNeedsFollow(recorded, { status, message: 'step 1' })).toBe('ended');
    expect(taskNeedsFollow(recorded, { status: 'input_required', message: 'step 1' })).toBe('input');
    expect(taskNeedsFollow({ status: 'input_required', message: 'x' }, { status: 'input_required', message: 'x' })).toBeUndefined();
    expect(taskNeedsFollow(recorded, { status: 'working', message: 'step 2' })).toBe('progress');
    expect(taskNeedsFollow(recorded, { status: 'working', message: 'step 1' })).toBeUndefined();
    // A message that disappears publishes nothing (noteTaskStatus publishes only a new message).
    expect(taskNeedsFollow(recorded, { status: 'working', message: undefined })).toBeUndefined();
    expect(taskNeedsFollow({ status: undefined, message: undefined }, { status: 'working', message: undefined })).toBeUndefined();
  });
});

describe('PollBudget', () => {
  it('allows pollsPerSecond requests a second after a small burst, and says how long until the next', () => {
    const t0 = Date.now();
    const budget = new PollBudget(50, t0);
    let burst = 0;
    while (budget.tryTake(t0)) burst++;
    expect(burst).toBe(10); // a fifth of a second's worth
    expect(budget.waitMs(t0)).toBe(20);
    let taken = 0;
    for (let t = t0 + 1; t <= t0 + 1_000; t++) if (budget.tryTake(t)) taken++;
    expect(taken).toBe(50);
  });

  it('a budget below one a second still allows one request, then waits', () => {
    const t0 = Date.now();
    const budget = new PollBudget(0.5, t0);
    expect(budget.tryTake(t0)).toBe(true);
    expect(budget.tryTake(t0 + 1_000)).toBe(false);
    expect(budget.waitMs(t0 + 1_000)).toBe(1_000);
    expect(budget.tryTake(t0 + 2_000)).toBe(true);
  });
});

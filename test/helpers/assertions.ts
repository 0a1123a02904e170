/** Assertions that several suites make the same way. */
import { expect } from 'vitest';
import type { Harness } from './harness.js';

/** What `p` rejected with, asserted to be a `type` (a promise that resolves fails the assertion). */
export async function rejectionOf<E>(p: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(type);
  return err as E;
}

/** The call's result has this status and error code (none: undefined), and no second result follows it. */
export async function expectOneResult(h: Harness, callId: string, status: string, code?: string) {
  const result = await h.client.result(callId, { timeoutMs: 30_000 });
  expect(result.status).toBe(status);
  expect(result.error?.code).toBe(code);
  // Give a straggler the chance to publish a second result, then count.
  await new Promise((r) => setTimeout(r, 500));
  expect((await h.storedEvents(callId)).results).toHaveLength(1);
  return result;
}

/**
 * The fast path's answer window does not hold the server's dispatch budget:
 * once the server answered tools/call with its stream, the call is started
 * and the submitter gives `servers.<alias>.maxDispatching` back, so long
 * calls of one server start side by side instead of one per window. With
 * maxDispatching 1 and a window longer than the tool, holding the budget
 * through the window would never let two calls run at once on the server.
 */
import type { ServiceProcess } from '@mcpq/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
let submitter: ServiceProcess;
beforeAll(async () => {
  h = await createHarness({
    servers: { one: { settings: { maxDispatching: 1 } } },
    config: { submitter: { answerWindowMs: 30_000, dispatchTimeoutMs: 60_000 } },
  });
  submitter = await h.start('submitter');
  await h.start('joiner');
});
afterAll(async () => {
  await h?.close();
});

describe('answer window and the dispatch budget', () => {
  it('three long calls of a server with maxDispatching 1 run on it at once; each ends with its one result', async () => {
    const calls = await Promise.all([1, 2, 3].map((i) => h.client.submit('one', 'slow', { durationMs: 4_000, steps: 2, label: `w${i}` })));
    let mostAtOnce = 0;
    await waitFor(
      'the three calls to run',
      () => {
        const s = h.mcp.one!.stats();
        mostAtOnce = Math.max(mostAtOnce, s.started - s.completed);
        return s.started >= 3 && s.completed >= 3;
      },
      30_000,
      50,
    );
    expect(mostAtOnce).toBeGreaterThanOrEqual(2);
    for (const { callId } of calls) {
      expect((await h.client.result(callId, { timeoutMs: 30_000 })).status).toBe('completed');
      expect((await h.storedEvents(callId)).results).toHaveLength(1);
    }
    expect(submitter.running).toBe(true);
  });
});

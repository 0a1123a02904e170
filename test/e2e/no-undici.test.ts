/**
 * The submitter and the joiner talk to MCP servers over node:http only: in
 * Node 20, touching fetch (or Headers, Response, Request) loads undici, about
 * 30 MB of RSS per process and allocation churn on every request. Each mode's
 * requests go out here (initialize, a tools/call answered on its POST stream,
 * a resume GET, task-mode tasks/get, a held call, a 2026-07-28 call), then the
 * processes stop and report the modules they loaded (helpers/module-report.mjs).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../helpers/harness.js';

const PRELOAD = pathToFileURL(join(import.meta.dirname, '../helpers/module-report.mjs')).href;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('no fetch in the services', () => {
  it('a submitter and a joiner that made every kind of MCP request never loaded undici', async () => {
    h = await createHarness({
      servers: {
        demo: { retryIntervalMs: 200 },
        tasks: { tasks: true, taskPollMs: 100 },
        plain: { eventStore: false, mode: 'hold' },
        modern: { era: 'modern' },
      },
    });
    const files = { submitter: join(h.dir, 'modules-submitter.json'), joiner: join(h.dir, 'modules-joiner.json') };
    const env = (file: string) => ({
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${PRELOAD}`.trim(),
      MCPQ_TEST_MODULES_FILE: file,
    });
    const submitter = await h.start('submitter', env(files.submitter));
    const joiner = await h.start('joiner', env(files.joiner));

    const calls = await Promise.all([
      h.client.submit('demo', 'echo', { text: 'fast path' }),
      // Longer than the answer window: the joiner resumes it with a GET.
      h.client.submit('demo', 'slow', { durationMs: 3_000, steps: 3 }),
      h.client.submit('tasks', 'slow_task', { durationMs: 500, steps: 2 }),
      h.client.submit('plain', 'slow', { durationMs: 500, steps: 2 }),
      h.client.submit('modern', 'echo', { text: '2026' }),
    ]);
    for (const { callId } of calls) {
      const r = await h.client.result(callId, { timeoutMs: 30_000 });
      expect(r.status, `${callId} ${r.mode} ${JSON.stringify(r.error)}`).toBe('completed');
    }
    const modes = await Promise.all(calls.map(async ({ callId }) => (await h!.record(callId))?.mode));
    expect(modes).toEqual(['resume', 'resume', 'task', 'hold', expect.any(String)]);
    // The slow call outlasted the answer window: the submitter left its stream, the joiner resumed it with a GET.
    expect((await h.record(calls[1].callId))?.lastEventId).toBeTruthy();

    await submitter.stop();
    await joiner.stop();
    for (const file of Object.values(files)) {
      expect(existsSync(file), file).toBe(true);
      expect(JSON.parse(readFileSync(file, 'utf8')), file).toEqual([]);
    }
  }, 60_000);
});

/**
 * The web console in a real browser (headless Chromium driven by
 * playwright-core) against a real nats-server, example MCP server, submitter
 * and joiner. Screenshots go to test-output/console/; the calls list one is
 * also docs/console.png. Waits are for page states, each bounded.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startConsole, type RunningConsole } from '@mcpq/console';
import { loadConfig } from '@mcpq/shared';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';

const CHROMIUM = '/usr/bin/chromium';
const root = fileURLToPath(new URL('../../', import.meta.url));
const shots = `${root}test-output/console/`;
const WAIT = { timeout: 30_000 };

const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`console browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`);

describe.skipIf(!hasChromium)('web console in a browser', () => {
  let h: Harness;
  let open: RunningConsole;
  let guarded: RunningConsole;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    h = await createHarness();
    await h.start('submitter');
    await h.start('joiner');
    open = await startConsole({ config: h.config, port: 0 });
    process.env.MCPQ_TEST_CONSOLE_RO = 'read-only-token-for-the-console-test';
    process.env.MCPQ_TEST_CONSOLE_OP = 'operator-token-for-the-console-test';
    const withTokens = loadConfig({
      config: {
        ...h.config,
        gateway: {
          tokens: [
            { token: { env: 'MCPQ_TEST_CONSOLE_RO' }, readOnly: true, admin: true },
            { token: { env: 'MCPQ_TEST_CONSOLE_OP' }, admin: true },
          ],
        },
      },
      env: process.env,
    });
    guarded = await startConsole({ config: withTokens, port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await open?.close();
    await guarded?.close();
    await h?.close();
  });

  async function page(): Promise<Page> {
    const p = await browser.newPage({ viewport: { width: 1360, height: 760 } });
    p.setDefaultTimeout(30_000);
    return p;
  }

  it('a submitted call appears in the live list, and its progress bar moves without a reload', async () => {
    const p = await page();
    await p.goto(open.url);
    await p.waitForSelector('#calls', WAIT);
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 6_000, steps: 6, label: 'console' });
    const row = `tr[data-call-id="${callId}"]`;
    await p.waitForSelector(row, WAIT);
    const progressAt = async () => Number((await p.getAttribute(`${row} .bar`, 'data-progress')) || 0);
    await p.waitForSelector(`${row} .bar:not([data-progress=""]):not([data-progress="0"])`, WAIT);
    const first = await progressAt();
    // Progress only moves forward: another value on the same bar means it moved.
    await p.waitForSelector(`${row} .bar:not([data-progress="${first}"])`, WAIT);
    expect(await progressAt()).toBeGreaterThan(first);
    expect(await p.getAttribute(`${row} .bar`, 'data-total')).toBe('6');
    await p.screenshot({ path: `${shots}calls-progress.png` });
    await p.waitForSelector(`${row} [data-status="completed"]`, WAIT);
    // The filters work on the live list: another status hides the call, its own shows it.
    await p.selectOption('select[name=status]', 'failed');
    await p.waitForSelector(row, { state: 'detached', ...WAIT });
    await p.selectOption('select[name=status]', 'completed');
    await p.fill('input[name=q]', callId.slice(0, 10));
    await p.waitForSelector(row, WAIT);
    await p.close();
  });

  it("a call's page shows its timeline (status, progress, result) and its result", async () => {
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 600, steps: 3, label: 'timeline' });
    await h.client.result(callId, { timeoutMs: 30_000 });
    const p = await page();
    await p.goto(`${open.url}#/call/${callId}`);
    await p.waitForSelector('#timeline li[data-kind="result"]', WAIT);
    const kinds = await p.$$eval('#timeline li', (lis) => lis.map((li) => li.getAttribute('data-kind')));
    expect(kinds.filter((k) => k === 'progress')).toHaveLength(3);
    expect(kinds).toContain('status');
    expect(kinds.at(-1)).toBe('result');
    await p.waitForSelector('#call-info[data-status="completed"]', WAIT);
    expect(await p.textContent('#result')).toContain('timeline');
    expect(await p.textContent('#arguments')).toContain('Not shown');
    await p.screenshot({ path: `${shots}call-timeline.png`, fullPage: true });
    await p.close();
  });

  it('Cancel on the page ends a running call cancelled', async () => {
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 60_000, steps: 60, label: 'to cancel' });
    const p = await page();
    await p.goto(`${open.url}#/call/${callId}`);
    await p.waitForSelector('#timeline li[data-kind="progress"]', WAIT);
    await p.waitForSelector('#cancel:not([disabled])', WAIT);
    await p.click('#cancel');
    await p.waitForSelector('#call-info[data-status="cancelled"]', WAIT);
    await p.waitForSelector('#timeline li[data-kind="result"]', WAIT);
    const result = await h.client.result(callId, { timeoutMs: 30_000 });
    expect(result.status).toBe('cancelled');
    expect(await p.textContent('#error')).toContain('cancelled');
    expect(await p.getAttribute('#error a', 'href')).toBe('/docs/errors#cancelled');
    await p.screenshot({ path: `${shots}call-cancelled.png`, fullPage: true });
    // The error code's link leads to its row of docs/errors.md.
    await p.goto(`${open.url.replace(/\/$/, '')}/docs/errors#cancelled`);
    expect(await p.textContent('tr#cancelled')).toContain('cancelled on request');
    await p.close();
  });

  it('Replay on the dead letters page publishes the dead letter again', async () => {
    // A submission that is not JSON is dead-lettered by the submitter (and will be again after replay).
    await h.js.publish(h.names.submit('demo'), 'this is not json');
    const first = await waitFor('the dead letter', async () => (await h.deadLetters()).find((l) => l.payload === 'this is not json'));
    const p = await page();
    await p.goto(`${open.url}#/dead-letters`);
    const row = await p.waitForSelector('#dead-letters tr[data-seq]', WAIT);
    const seq = Number(await row.getAttribute('data-seq'));
    expect(await row.textContent()).toContain(first.code);
    expect(await row.textContent()).toContain('this is not json'); // the original payload
    await p.screenshot({ path: `${shots}dead-letters.png` });
    await p.click(`tr[data-seq="${seq}"] button.replay`);
    await p.waitForSelector(`#action-message:has-text("replayed dead letter ${seq}")`, WAIT);
    await p.waitForSelector(`tr[data-seq="${seq}"]`, { state: 'detached', ...WAIT });
    // The replayed message went through the submitter again, which dead-lettered it anew.
    await waitFor('the replayed submission dead-lettered again', async () => {
      const letters = await h.deadLetters();
      return letters.length === 1 && letters[0]!.payload === 'this is not json';
    });
    await p.close();
  });

  it('the servers and queues page shows each server, each stream with its consumers, and each joiner', async () => {
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 30_000, steps: 30 });
    await waitFor('the call running', async () => (await h.client.status(callId))?.status === 'running');
    const p = await page();
    await p.goto(`${open.url}#/system`);
    await p.waitForSelector('#servers tr[data-alias="demo"]', WAIT);
    await p.waitForSelector(`#streams tr[data-stream="${h.names.streams.join}"]`, WAIT);
    const joiner = await p.waitForSelector('#joiners tr[data-joiner]', WAIT);
    const cells = await joiner.$$eval('td', (tds) => tds.map((td) => td.textContent));
    expect(Number(cells[1])).toBeGreaterThanOrEqual(1); // held: the running call
    await p.screenshot({ path: `${shots}servers-queues.png`, fullPage: true });
    await h.client.cancel(callId);
    await p.close();
  });

  it('with tokens, the console asks for a login, and a read-only token cannot cancel', async () => {
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 30_000, steps: 30 });
    const p = await page();
    await p.goto(guarded.url);
    await p.fill('input[name=token]', 'not-a-configured-token');
    await p.click('button[type=submit]');
    await p.waitForSelector('.error:has-text("not configured")', WAIT);
    await p.fill('input[name=token]', process.env.MCPQ_TEST_CONSOLE_RO!);
    await p.click('button[type=submit]');
    await p.waitForSelector('#calls', WAIT);
    const cookies = await p.context().cookies();
    expect(cookies.find((c) => c.name === 'mcpq_console')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    await p.goto(`${guarded.url}#/call/${callId}`);
    await p.waitForSelector('#call-info', WAIT);
    expect(await p.getAttribute('#cancel', 'disabled')).not.toBeNull();
    // Even a request made by hand from the page, with the session's CSRF token, is refused.
    const answer = await p.evaluate(async (id) => {
      const me = (await (await fetch('/api/me')).json()) as { csrf: string };
      const res = await fetch(`/api/calls/${id}/cancel`, { method: 'POST', headers: { 'x-mcpq-csrf': me.csrf } });
      return { status: res.status, body: (await res.json()) as { error: { code: string } } };
    }, callId);
    expect(answer).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    expect((await h.client.status(callId))?.status).toBe('running');
    await p.screenshot({ path: `${shots}read-only.png` });
    await h.client.cancel(callId);
    await p.close();
  });

  it('the live list starts from a bounded read; "older calls" loads the rest a page at a time, each call once', async () => {
    for (let i = 0; i < 3; i++) {
      const { callId } = await h.client.submit('demo', 'echo', { text: `older-${i}` });
      await h.client.result(callId, { timeoutMs: 30_000 });
    }
    // A console that reads 2 records at start and per page: the bucket holds more than that by now.
    const small = await startConsole({
      config: loadConfig({ config: { ...h.config, ui: { ...h.config.ui, callsScanLimit: 2, callsPageSize: 2 } }, env: process.env }),
      port: 0,
    });
    const p = await page();
    try {
      await p.goto(small.url);
      await p.waitForSelector('#older-calls', WAIT); // visible: the initial read did not reach the oldest record
      const shown = () => p.$$eval('#calls tbody tr[data-call-id]', (rows) => rows.map((r) => r.getAttribute('data-call-id')));
      expect((await shown()).length).toBeLessThanOrEqual(2);
      // Each click is one bounded request; the bucket's few dozen writes end within 500.
      for (let i = 0; i < 500 && (await p.isVisible('#older-calls')); i++) {
        await p.click('#older-calls');
        // disabled from the click until its page is in (and then hidden when it was the last)
        await p.waitForSelector('#older-calls:not([disabled])', { state: 'attached', ...WAIT });
      }
      expect(await p.isVisible('#older-calls')).toBe(false);
      expect(await p.textContent('#older-message')).toMatch(/no older calls/);
      const all = await h.client.list({ limit: 1_000, scanLimit: 100_000 });
      expect(all.nextCursor).toBeUndefined();
      const ids = await shown();
      expect(ids).toHaveLength(new Set(ids).size);
      expect(new Set(ids)).toEqual(new Set(all.calls.map((c) => c.callId)));
    } finally {
      await p.close();
      await small.close();
    }
  });

  it('docs/console.png: the calls list with calls in several states', async () => {
    await h.client.submit('demo', 'slow', { durationMs: 120_000, steps: 100, label: 'long' });
    const failing = await h.client.submit('demo', 'no_such_tool', {});
    await h.client.result(failing.callId, { timeoutMs: 30_000 });
    const p = await page();
    await p.goto(open.url);
    await p.waitForSelector('#calls [data-status="running"]', WAIT);
    await p.waitForSelector('#calls [data-status="failed"]', WAIT);
    await p.screenshot({ path: `${shots}console.png` });
    await p.screenshot({ path: `${root}docs/console.png` });
    await p.close();
  });
});

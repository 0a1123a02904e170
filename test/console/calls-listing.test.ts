/**
 * Listing calls is bounded whatever the number of records: McpqClient.list
 * (what `mcpq ls` runs), the console's /api/calls and its live list all page
 * through the one scan of @mcpq/client (record-scan.ts), which reads at most
 * a scan limit of records per request. A real nats-server holds a bucket of
 * 3,000 small records written straight to KV (no MCP call behind them: the
 * listing only reads records).
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KV } from '@nats-io/kv';
import { scanRecords, type ScanOptions, type ScannedRecord } from '@mcpq/client';
import { startConsole, type RunningConsole } from '@mcpq/console';
import { ErrorCode, isMcpqError, loadConfig, provision, type CallRecord } from '@mcpq/shared';
import { createHarness, type Harness } from '../helpers/harness.js';

const RECORDS = 3_000;
const SCAN_LIMIT = 250;
const PAGE_SIZE = 40;
/** Bound on the pages a walk follows: 3,000 records read 250 at a time need 12 requests (13 with a last empty window). */
const MAX_PAGES = 200;

let h: Harness;
let kv: KV;
let console_: RunningConsole;
const ids: string[] = [];

function record(i: number): CallRecord {
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
  return {
    v: 1,
    callId: `rec-${String(i).padStart(4, '0')}`,
    server: i % 3 === 0 ? 'demo' : 'other',
    tool: 'echo',
    status: i % 2 === 0 ? 'completed' : 'running',
    idempotent: false,
    progressSeq: 0,
    attempts: 1,
    createdAt: at,
    updatedAt: at,
  };
}

beforeAll(async () => {
  h = await createHarness({ config: { ui: { callsScanLimit: SCAN_LIMIT, callsPageSize: PAGE_SIZE } } });
  ({ kv } = await provision(h.nc, h.config));
  // Written fast: 300 puts in flight at a time.
  for (let i = 0; i < RECORDS; i += 300) {
    const batch = Array.from({ length: Math.min(300, RECORDS - i) }, (_, j) => record(i + j));
    await Promise.all(batch.map((r) => kv.put(r.callId, JSON.stringify(r))));
    ids.push(...batch.map((r) => r.callId));
  }
  console_ = await startConsole({ config: h.config, port: 0 });
}, 120_000);
afterAll(async () => {
  await console_?.close();
  await h?.close();
});

/** Every page of a scan, following nextCursor (bounded). */
async function walk(options: Omit<ScanOptions, 'cursor'>): Promise<Array<{ records: ScannedRecord[]; scanned: number }>> {
  const pages = [];
  let cursor: string | undefined;
  for (let i = 0; i < MAX_PAGES; i++) {
    const page = await scanRecords({ js: h.js, kv }, { ...options, cursor });
    pages.push(page);
    cursor = page.nextCursor;
    if (cursor === undefined) return pages;
  }
  throw new Error(`the scan did not end within ${MAX_PAGES} pages`);
}

const callIds = (pages: Array<{ records: ScannedRecord[] }>) => pages.flatMap((p) => p.records.map((r) => r.record.callId));
const revisions = (pages: Array<{ records: ScannedRecord[] }>) => pages.flatMap((p) => p.records.map((r) => r.revision));

describe('the bounded scan of the call records', () => {
  for (const order of ['newest', 'oldest'] as const) {
    it(`${order} first: each request reads at most the scan limit; the pages hold every record exactly once, in order`, async () => {
      const pages = await walk({ order, scanLimit: SCAN_LIMIT, pageSize: PAGE_SIZE });
      for (const p of pages) {
        expect(p.scanned).toBeLessThanOrEqual(SCAN_LIMIT);
        expect(p.records.length).toBeLessThanOrEqual(PAGE_SIZE);
      }
      const seen = callIds(pages);
      expect(seen).toHaveLength(RECORDS);
      expect(new Set(seen)).toEqual(new Set(ids));
      const revs = revisions(pages);
      const sorted = [...revs].sort((a, b) => (order === 'newest' ? b - a : a - b));
      expect(revs).toEqual(sorted);
      expect(pages.reduce((n, p) => n + p.scanned, 0)).toBeGreaterThanOrEqual(RECORDS);
    });
  }

  for (const order of ['newest', 'oldest'] as const) {
    it(`${order} first with a filter: within the bound, pages may be short, the walk still finds every match once`, async () => {
      const match = (r: CallRecord) => r.server === 'demo' && r.status === 'completed';
      const pages = await walk({ order, scanLimit: SCAN_LIMIT, pageSize: 100, match });
      for (const p of pages) expect(p.scanned).toBeLessThanOrEqual(SCAN_LIMIT);
      const want = ids.filter((_, i) => i % 6 === 0);
      const seen = callIds(pages);
      expect(seen).toHaveLength(want.length);
      expect(new Set(seen)).toEqual(new Set(want));
      // 500 matches, at most 250 records read a request: pages are short (250 records hold about 42 of them).
      expect(pages.some((p) => p.records.length < 100 && p !== pages.at(-1))).toBe(true);
    });
  }

  it('a cursor that is garbage, of the other order, or past the records is refused as bad input', async () => {
    const last = (await kv.status()).streamInfo.state.last_seq;
    const cases: Array<[ScanOptions['order'], string]> = [
      ['newest', 'garbage'],
      ['newest', 'n0'],
      ['newest', 'n-5'],
      ['newest', `n${'9'.repeat(40)}`],
      ['newest', 'r5'],
      ['oldest', 'n5'],
      ['newest', `n${last + 1}`],
      ['oldest', `r${last + 1}`],
      ['oldest', 'r999999999'],
    ];
    for (const [order, cursor] of cases) {
      const err = await scanRecords({ js: h.js, kv }, { order, cursor, scanLimit: SCAN_LIMIT, pageSize: PAGE_SIZE }).catch(
        (e: unknown) => e,
      );
      expect(isMcpqError(err, ErrorCode.invalid_request), `${order} ${cursor}: ${String(err)}`).toBe(true);
      expect((err as Error).message).toContain('invalid cursor');
    }
  });
});

describe('McpqClient.list (mcpq ls)', () => {
  it('pages newest first with the config defaults, bounded, with filters; following nextCursor lists each call once', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < MAX_PAGES; i++) {
      const page = await h.client.list({ status: 'running', server: 'other', tool: 'echo', limit: 100, scanLimit: SCAN_LIMIT, cursor });
      expect(page.scanned).toBeLessThanOrEqual(SCAN_LIMIT);
      for (const c of page.calls) expect(c).toMatchObject({ status: 'running', server: 'other', tool: 'echo' });
      seen.push(...page.calls.map((c) => c.callId));
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    expect(cursor).toBeUndefined();
    const want = ids.filter((_, i) => i % 2 === 1 && i % 3 !== 0);
    expect(seen).toHaveLength(want.length);
    expect(new Set(seen)).toEqual(new Set(want));
  });

  it('without limits it reads the schema default scan limit (1,000), not the whole bucket', async () => {
    const page = await h.client.list();
    expect(page.calls).toHaveLength(100);
    expect(page.nextCursor).toMatch(/^n[0-9]+$/);
    // 100 kept from the newest 1,000 records: at most that many read.
    expect(page.scanned).toBeLessThanOrEqual(1_000);
  });
});

interface Answer {
  status: number;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function get(path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, console_.url), (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, json: () => JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads the live list's stream until `done` says what it waited for, within 30 s. */
function readStream<T>(done: (text: string) => T | undefined, onOpen?: () => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL('/api/calls/stream', console_.url), (res) => {
      let text = '';
      res.setEncoding('utf8');
      onOpen?.();
      res.on('data', (c: string) => {
        text += c;
        const found = done(text);
        if (found !== undefined) {
          clearTimeout(timer);
          req.destroy();
          resolve(found);
        }
      });
    });
    const timer = setTimeout(() => (req.destroy(), reject(new Error('the stream did not say it within 30 s'))), 30_000);
    req.on('error', (err) => (clearTimeout(timer), reject(err)));
    req.end();
  });
}

/** The first event of the live list's stream: its snapshot. */
function firstSnapshot(): Promise<{ calls: Array<{ callId: string }>; nextCursor?: string }> {
  return readStream((text) => {
    const m = /event: snapshot\ndata: (.*)\n\n/.exec(text);
    return m ? JSON.parse(m[1]!) : undefined;
  });
}

describe('the console', () => {
  it('its live list starts from one bounded read; "older calls" (/api/calls from its cursor) brings the rest, each once', async () => {
    const snapshot = await firstSnapshot();
    expect(snapshot.calls).toHaveLength(SCAN_LIMIT);
    expect(snapshot.nextCursor).toMatch(/^n[0-9]+$/);
    const seen = snapshot.calls.map((c) => c.callId);
    let cursor = snapshot.nextCursor;
    for (let i = 0; i < MAX_PAGES && cursor; i++) {
      const page = await get(`/api/calls?cursor=${cursor}`);
      expect(page.status).toBe(200);
      const body = page.json();
      expect(body.scanned).toBeLessThanOrEqual(SCAN_LIMIT);
      expect(body.calls.length).toBeLessThanOrEqual(PAGE_SIZE);
      seen.push(...body.calls.map((c: { callId: string }) => c.callId));
      cursor = body.nextCursor;
    }
    expect(cursor).toBeUndefined();
    expect(seen).toHaveLength(RECORDS);
    expect(new Set(seen)).toEqual(new Set(ids));
  });

  it('after its bounded start the live list follows new writes (a record written now is pushed to the page)', async () => {
    const late = { ...record(RECORDS), callId: 'rec-late' };
    const seen = await readStream(
      (text) => (/event: call\ndata: .*"callId":"rec-late"/.test(text) ? true : undefined),
      () => void kv.put(late.callId, JSON.stringify(late)),
    );
    expect(seen).toBe(true);
    await kv.delete(late.callId); // the other tests count exactly the records written in beforeAll
  });

  it('/api/calls: a page of ui.callsPageSize, filters within the bound, and bad input refused with 400', async () => {
    const first = (await get('/api/calls')).json();
    expect(first.calls).toHaveLength(PAGE_SIZE);
    expect(first.scanned).toBeLessThanOrEqual(SCAN_LIMIT);
    const filtered = (await get('/api/calls?status=completed&server=demo&q=rec-&limit=5')).json();
    expect(filtered.calls.length).toBeLessThanOrEqual(5);
    for (const c of filtered.calls) expect(c).toMatchObject({ status: 'completed', server: 'demo' });
    for (const bad of ['cursor=nonsense', 'cursor=r12', 'cursor=n999999999', 'limit=0', 'limit=5000', 'limit=x', 'status=sleeping']) {
      const res = await get(`/api/calls?${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.json().error.code, bad).toBe('invalid_request');
    }
  });
});

// The config fields are schema-bounded like the gateway's.
it('ui.callsPageSize and ui.callsScanLimit are validated by the config schema', () => {
  expect(() => loadConfig({ config: { ui: { callsPageSize: 0 } }, env: {} })).toThrow();
  expect(() => loadConfig({ config: { ui: { callsScanLimit: 1_000_000 } }, env: {} })).toThrow();
  expect(loadConfig({ config: {}, env: {} }).ui).toMatchObject({ callsPageSize: 100, callsScanLimit: 1_000 });
});

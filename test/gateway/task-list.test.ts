/**
 * The gateway's tasks/list is bounded: a page holds at most
 * gateway.tasksListPageSize tasks, and one request reads at most
 * gateway.tasksListScanLimit call records, whoever they belong to (here 3
 * and 5, so a dozen records need several requests). Following nextCursor
 * walks every task of the tenant once, none of another tenant's; a page cut
 * by the scan limit may be empty and still carry a cursor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, CreateTaskResultSchema, McpError, type ListTasksResult } from '@modelcontextprotocol/sdk/types.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { connectHost } from './gateway-helpers.js';

const TOKENS = { TOKEN_A: 'list-token-of-a', TOKEN_B: 'list-token-of-b' };
const PAGE_SIZE = 3;
const SCAN_LIMIT = 5;

let h: Harness;
let a: Client;
let b: Client;
const hosts: Client[] = [];
const mine = { a: [] as string[], b: [] as string[] };

beforeAll(async () => {
  h = await createHarness({
    config: {
      gateway: {
        tokens: [
          { token: { env: 'TOKEN_A' }, tenant: 'a' },
          { token: { env: 'TOKEN_B' }, tenant: 'b' },
        ],
        tasksListPageSize: PAGE_SIZE,
        tasksListScanLimit: SCAN_LIMIT,
      },
    },
    configEnv: TOKENS,
  });
  await h.start('submitter', TOKENS);
  await h.start('joiner', TOKENS);
  const { url } = await h.startGateway(TOKENS);
  a = await connectHost(url, TOKENS.TOKEN_A);
  b = await connectHost(url, TOKENS.TOKEN_B);
  hosts.push(a, b);
  // One after the other, each to its end: the records' order of last update is b's six, then a's seven.
  for (let i = 0; i < 6; i++) mine.b.push(await finishedTask(b, `b${i}`));
  for (let i = 0; i < 7; i++) mine.a.push(await finishedTask(a, `a${i}`));
});
afterAll(async () => {
  await Promise.all(hosts.map((c) => c.close().catch(() => undefined)));
  await h?.close();
});

async function finishedTask(host: Client, text: string): Promise<string> {
  const created = await host.request(
    { method: 'tools/call', params: { name: 'demo__echo', arguments: { text }, task: { ttl: 60_000 } } },
    CreateTaskResultSchema,
  );
  const result = await host.experimental.tasks.getTaskResult(created.task.taskId, CallToolResultSchema);
  expect(result.isError).toBeFalsy();
  return created.task.taskId;
}

/** Every page of the host's tasks/list, following nextCursor (at most 50 requests). */
async function walk(host: Client, between?: (page: number) => Promise<void>): Promise<ListTasksResult[]> {
  const pages: ListTasksResult[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 50; i++) {
    const page = await host.experimental.tasks.listTasks(cursor);
    pages.push(page);
    cursor = page.nextCursor;
    if (!cursor) return pages;
    await between?.(i);
  }
  throw new Error('tasks/list did not end within 50 pages');
}

const ids = (pages: ListTasksResult[]) => pages.flatMap((p) => p.tasks.map((t) => t.taskId));

describe('gateway: tasks/list is paged and bounded', () => {
  it("walking a tenant's pages yields each of its tasks once and none of the other's; no page is over the page size", async () => {
    for (const [host, own, other] of [
      [a, mine.a, mine.b],
      [b, mine.b, mine.a],
    ] as const) {
      const pages = await walk(host);
      for (const p of pages) expect(p.tasks.length).toBeLessThanOrEqual(PAGE_SIZE);
      expect(ids(pages).sort()).toEqual([...own].sort());
      expect(ids(pages).filter((id) => other.includes(id))).toEqual([]);
      for (const t of pages.flatMap((p) => p.tasks)) expect(t.status).toBe('completed');
      // 13 records at most 5 a request: at least 3 requests, whatever the page size allows.
      expect(pages.length).toBeGreaterThanOrEqual(Math.ceil((mine.a.length + mine.b.length) / SCAN_LIMIT));
    }
  });

  it("a request stops after the scan limit: tenant a's first page read only b's records and is empty, with a cursor", async () => {
    const first = await a.experimental.tasks.listTasks();
    expect(first.tasks).toEqual([]);
    expect(first.nextCursor).toBeTruthy();
    // The whole list in one request would have filled the page: the scan stopped, not the data.
    const second = await a.experimental.tasks.listTasks(first.nextCursor);
    expect(second.tasks.length).toBeGreaterThan(0);
  });

  it('a task that ends while a host pages is not skipped: it comes on a later page', async () => {
    let late: string | undefined;
    const pages = await walk(a, async (page) => {
      if (page === 0) late = await finishedTask(a, 'late');
    });
    expect(late).toBeDefined();
    expect(ids(pages)).toContain(late);
    mine.a.push(late!);
    expect(new Set(ids(pages))).toEqual(new Set(mine.a));
  });

  it("a cursor it did not hand out is refused (-32602): garbage, the console's newest-first kind, one past the records", async () => {
    for (const bad of ['100', 'r0', 'r-1', 'x', 'r1'.repeat(20), 'n5', 'r999999999']) {
      const err = await a.experimental.tasks.listTasks(bad).catch((e: unknown) => e);
      expect(err, bad).toBeInstanceOf(McpError);
      expect((err as McpError).code).toBe(-32602);
    }
  });
});

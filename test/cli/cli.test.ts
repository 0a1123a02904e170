/**
 * The mcpq command, run as the built binary in a child process, against a
 * running system.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';
import { ENTRY } from '@mcpq/testkit';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
  await h.start('submitter');
  await h.start('joiner');
});
// Commands still running when a test fails are killed with the harness, never left behind.
const spawned = new Set<ChildProcess>();
afterAll(async () => {
  for (const p of spawned) p.kill('SIGKILL');
  await h.close();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  lines: Array<Record<string, unknown>>;
}

function mcpq(args: string[], timeoutMs = 60_000, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [ENTRY.cli, ...args], {
      env: { ...process.env, NATS_URL: h.nats.url, MCPQ_PREFIX: h.config.prefix, MCPQ_CONFIG: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    spawned.add(proc);
    proc.once('exit', () => spawned.delete(proc));
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`mcpq ${args.join(' ')} did not finish in ${timeoutMs} ms: ${stdout} ${stderr}`));
    }, timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      const lines = stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return { text: l };
          }
        });
      resolve({ code, stdout, stderr, lines });
    });
  });
}

describe('mcpq command', () => {
  it('call --wait prints JSON lines (stdout is not a terminal): submitted, progress in order, the result last; exit 0', async () => {
    const run = await mcpq(['call', 'demo', 'slow', '--args', '{"durationMs":1000,"steps":4}', '--arg', 'label=cli', '--wait']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.lines[0]).toMatchObject({ type: 'submitted' });
    const callId = run.lines[0]!.callId as string;
    const progress = run.lines.filter((l) => l.type === 'progress');
    expect(progress.map((p) => p.seq)).toEqual([1, 2, 3, 4]);
    expect(run.lines.at(-1)).toMatchObject({ type: 'result', status: 'completed', callId });
  });

  // A call of their own, not the one `call --wait` made above: when that test failed (under load, once),
  // these ran with no call id and exited 1 on usage, which looked like a failure of status and watch.
  describe('on a finished call', () => {
    let callId = '';
    beforeAll(async () => {
      ({ callId } = await h.client.submit('demo', 'slow', { durationMs: 1_000, steps: 4, label: 'cli' }));
      expect((await h.client.result(callId, { timeoutMs: 60_000 })).status).toBe('completed');
    });

    it('status shows the finished call from its record', async () => {
      const run = await mcpq(['status', callId, '--json']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.lines[0]).toMatchObject({ callId, status: 'completed', server: 'demo', tool: 'slow', mode: 'resume', progressSeq: 4 });
    });

    it('watch replays a finished call from the start', async () => {
      const run = await mcpq(['watch', callId]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.lines.filter((l) => l.type === 'progress')).toHaveLength(4);
      expect(run.lines.at(-1)).toMatchObject({ type: 'result', status: 'completed' });
    });
  });

  it('a tool error exits 2, an unknown tool (failed) exits 3', async () => {
    expect((await mcpq(['call', 'demo', 'fail', '--wait'])).code).toBe(2);
    const failed = await mcpq(['call', 'demo', 'nope', '--wait']);
    expect(failed.code).toBe(3);
    expect(failed.lines.at(-1)).toMatchObject({ type: 'result', status: 'failed', error: { code: 'unknown_tool' } });
  });

  it('status of an unknown call exits 7, bad usage exits 1 with the usage', async () => {
    expect((await mcpq(['status', 'never-seen'])).code).toBe(7);
    const bad = await mcpq(['call', 'demo']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/usage: mcpq call/);
  });

  it('ls and status show a running call; cancel ends it; call --wait exits 4 for the cancelled call', async () => {
    const waiting = mcpq(['call', 'demo', 'slow', '--args', '{"durationMs":30000,"steps":30}', '--id', 'cli-running-1', '--wait']);
    await waitFor('running', async () => (await h.record('cli-running-1'))?.status === 'running');
    const ls = await mcpq(['ls', '--status', 'running', '--json']);
    expect(ls.code).toBe(0);
    expect(ls.lines.map((l) => l.callId)).toContain('cli-running-1');
    const status = await mcpq(['status', 'cli-running-1', '--json']);
    expect(status.lines[0]).toMatchObject({ status: 'running', mode: 'resume' });
    const cancel = await mcpq(['cancel', 'cli-running-1', '--reason', 'from the test']);
    expect(cancel.code).toBe(0);
    expect(cancel.lines[0]).toMatchObject({ accepted: true, status: 'cancelled' });
    const run = await waiting;
    expect(run.code).toBe(4);
    expect(run.lines.at(-1)).toMatchObject({ type: 'result', status: 'cancelled' });
  });

  it('ls pages: --limit caps the page, stderr names the --cursor of the next one, following it lists each call once', async () => {
    // The earlier tests left calls in the bucket; two more make at least three.
    for (const text of ['ls-a', 'ls-b']) expect((await mcpq(['call', 'demo', 'echo', '--arg', `text=${text}`, '--wait'])).code).toBe(0);
    const all = await mcpq(['ls', '--json']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stderr).toBe('');
    const every = all.lines.map((l) => l.callId);
    expect(every.length).toBeGreaterThanOrEqual(3);
    const seen: unknown[] = [];
    let cursor: string | undefined;
    // A page reads 10 records at most: the walk ends within a page per 2 calls plus one per 10 writes of the bucket.
    for (let i = 0; i < 50; i++) {
      const page = await mcpq(['ls', '--json', '--limit', '2', '--scan-limit', '10', ...(cursor ? ['--cursor', cursor] : [])]);
      expect(page.code, page.stderr).toBe(0);
      expect(page.lines.length).toBeLessThanOrEqual(2);
      seen.push(...page.lines.map((l) => l.callId));
      cursor = /mcpq ls --cursor (\S+)/.exec(page.stderr)?.[1];
      if (!cursor) break;
      expect(page.stderr).toMatch(/records read for this page, at most 10/);
    }
    expect(cursor).toBeUndefined();
    expect(seen).toEqual(every);
  });

  it('ls refuses a cursor it did not hand out, and a page size out of bounds', async () => {
    for (const cursor of ['nonsense', 'r5', 'n999999999']) {
      const run = await mcpq(['ls', '--cursor', cursor]);
      expect(run.code, cursor).toBe(1);
      expect(run.stderr, cursor).toMatch(/\[invalid_request\] invalid cursor/);
    }
    const big = await mcpq(['ls', '--limit', '100000']);
    expect(big.code).toBe(1);
    expect(big.stderr).toMatch(/--limit must be a whole number from 1 to 1000/);
  });

  it('call --wait --timeout exits 5 when the call passes its deadline', async () => {
    const run = await mcpq(['call', 'demo', 'slow', '--args', '{"durationMs":30000,"steps":30}', '--timeout', '1s', '--wait']);
    expect(run.code).toBe(5);
    expect(run.lines.at(-1)).toMatchObject({ type: 'result', status: 'timeout', error: { code: 'timeout' } });
  });

  it('servers shows each configured server, the mode of each tool, and reachability', async () => {
    const run = await mcpq(['servers', '--json'], 30_000, { MCPQ_CONFIG: h.configPath });
    expect(run.code).toBe(0);
    const demo = run.lines.find((l) => l.alias === 'demo') as {
      reachable: boolean;
      resumable: boolean;
      tools: Array<{ name: string; mode: string }>;
    };
    expect(demo.reachable).toBe(true);
    expect(demo.resumable).toBe(true);
    expect(demo.tools.find((t) => t.name === 'slow')?.mode).toBe('resume');
  });

  it('dlq ls lists a dead letter and dlq replay sends it back to its subject', async () => {
    await h.js.publish(h.names.submit('demo'), 'not json at all');
    const listed = await waitFor('a dead letter', async () => {
      const r = await mcpq(['dlq', 'ls', '--json']);
      return r.lines.find((l) => l.payload === 'not json at all');
    });
    expect(listed).toMatchObject({ reason: 'submit', code: 'invalid_request' });
    const replay = await mcpq(['dlq', 'replay', String(listed.dlqSeq), '--json']);
    expect(replay.code).toBe(0);
    expect(replay.lines[0]).toMatchObject({ replayed: listed.dlqSeq, subject: h.names.submit('demo'), deleted: true });
    // The replayed message is rejected again (it is still not JSON): a new dead letter, the old one gone.
    const after = await waitFor('the new dead letter', async () => {
      const r = await mcpq(['dlq', 'ls', '--json']);
      const same = r.lines.filter((l) => l.payload === 'not json at all');
      return same.length === 1 && same[0]!.dlqSeq !== listed.dlqSeq ? same : undefined;
    });
    expect(after).toHaveLength(1);
  });
});

/**
 * The mcpq command, run as the built binary in a child process, against a
 * running system.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../helpers/harness.js';
import { ENTRY } from '../helpers/services.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
  await h.start('submitter');
  await h.start('joiner');
});
afterAll(async () => {
  await h.close();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  lines: Array<Record<string, unknown>>;
}

function mcpq(args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [ENTRY.cli, ...args], {
      env: { ...process.env, NATS_URL: h.nats.url, MCPQ_PREFIX: h.config.prefix, MCPQ_CONFIG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
  let callId = '';

  it('call --wait prints JSON lines (stdout is not a terminal): submitted, progress in order, the result last; exit 0', async () => {
    const run = await mcpq(['call', 'demo', 'slow', '--args', '{"durationMs":1000,"steps":4}', '--arg', 'label=cli', '--wait']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.lines[0]).toMatchObject({ type: 'submitted' });
    callId = run.lines[0]!.callId as string;
    const progress = run.lines.filter((l) => l.type === 'progress');
    expect(progress.map((p) => p.seq)).toEqual([1, 2, 3, 4]);
    expect(run.lines.at(-1)).toMatchObject({ type: 'result', status: 'completed', callId });
  });

  it('status shows the finished call from its record', async () => {
    const run = await mcpq(['status', callId, '--json']);
    expect(run.code).toBe(0);
    expect(run.lines[0]).toMatchObject({ callId, status: 'completed', server: 'demo', tool: 'slow', mode: 'resume', progressSeq: 4 });
  });

  it('watch replays a finished call from the start', async () => {
    const run = await mcpq(['watch', callId]);
    expect(run.code).toBe(0);
    expect(run.lines.filter((l) => l.type === 'progress')).toHaveLength(4);
    expect(run.lines.at(-1)).toMatchObject({ type: 'result', status: 'completed' });
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
});

/**
 * A caller in another language (Go, examples/go-caller) uses mcpq through
 * the wire contract alone: it submits with a Nats-Msg-Id, a repeat of the
 * submission is dropped, and it reads the call's progress and one result
 * from the events stream. Built off-line against Debian's Go packages; CI
 * (.ci/run) installs them. Without `go` the test is skipped with a reason,
 * unless MCPQ_REQUIRE_GO=1 (set by CI) makes that a failure.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../helpers/harness.js';

const GOCODE = '/usr/share/gocode';
const source = fileURLToPath(new URL('../../examples/go-caller/', import.meta.url));
const goFound = spawnSync('go', ['version']).status === 0;
if (!goFound) {
  const message = 'go-caller test skipped: `go` is not installed (apt-get install golang-go golang-github-nats-io-go-nats-dev)';
  if (process.env.MCPQ_REQUIRE_GO === '1') throw new Error(`${message}, and MCPQ_REQUIRE_GO=1 requires it`);
  console.warn(message);
}

describe.skipIf(!goFound)('a Go caller using only the wire contract', () => {
  let h: Harness;
  let dir: string;
  let binary: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpq-go-'));
    binary = join(dir, 'go-caller');
    // GOPATH mode against the Debian packages and no proxy: the build must not need the network.
    execFileSync('go', ['build', '-o', binary, '.'], {
      cwd: source,
      env: { ...process.env, GO111MODULE: 'off', GOPATH: GOCODE, GOPROXY: 'off', GOFLAGS: '', GOCACHE: join(dir, 'cache') },
      stdio: 'pipe',
    });
    h = await createHarness();
    await h.start('submitter');
    await h.start('joiner');
  }, 180_000);
  afterAll(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('submits once (the repeat is dropped by Nats-Msg-Id) and reads progress and the one completed result from the stream', async () => {
    // Asynchronously: the example MCP server runs in this process and must keep answering.
    const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        binary,
        ['-server', 'demo', '-tool', 'slow', '-args', '{"durationMs":600,"steps":3}', '-call-id', 'go-call-1', '-wait', '60s'],
        { env: { ...process.env, NATS_URL: h.nats.url, MCPQ_PREFIX: h.config.prefix }, encoding: 'utf8', timeout: 90_000 },
        (_err, stdout, stderr) => resolve({ status: child.exitCode, stdout, stderr }),
      );
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; event: Record<string, unknown> });
    const submitted = lines.filter((l) => l.kind === 'submitted').map((l) => l.event.duplicate);
    expect(submitted).toEqual([false, true]);
    expect(lines.filter((l) => l.kind === 'progress').map((l) => l.event.seq)).toEqual([1, 2, 3]);
    const results = lines.filter((l) => l.kind === 'result');
    expect(results).toHaveLength(1);
    expect(results[0]!.event).toMatchObject({ callId: 'go-call-1', status: 'completed', attempts: 1 });
    expect(lines.at(-1)!.kind).toBe('result');
    expect(Object.values(h.mcp.demo!.stats().executions.slow!)).toEqual([1]);
  });
});

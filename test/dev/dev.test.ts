/**
 * The README's "run it" command: `pnpm dev` starts everything, a call goes
 * through it, and Ctrl-C (SIGINT to the process group, as a terminal sends
 * it) leaves no process of its own behind.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/harness.js';
import { ENTRY } from '@mcpq/testkit';

const root = fileURLToPath(new URL('../../', import.meta.url));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const cwd = mkdtempSync(join(tmpdir(), 'mcpq-dev-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

describe('pnpm dev', () => {
  it('runs the system with a demo call, serves a call from another terminal, and stops everything on Ctrl-C', async () => {
    const hasPnpm = spawnSync('pnpm', ['--version']).status === 0;
    // `pnpm dev` is `pnpm build && mcpq dev --demo`, run in the repository; the data directory goes to cwd.
    const cmd = hasPnpm ? ['pnpm', ['--dir', root, 'dev']] : [process.execPath, [ENTRY.cli, 'dev', '--demo']];
    const env: NodeJS.ProcessEnv = { ...process.env, MCPQ_DEV_DIR: join(cwd, '.mcpq') };
    delete env.NATS_URL;
    const dev = spawn(cmd[0] as string, cmd[1] as string[], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    dev.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    dev.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      dev.once('exit', (code, signal) => r({ code, signal })),
    );
    try {
      await waitFor('the demo call to finish', () => /Ctrl-C stops everything/.test(out), 90_000);
      expect(out).toMatch(/"type":"result".*"status":"completed"|result: completed/);
      const pids = [...out.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
      expect(pids.length).toBe(8); // mcpq dev itself, nats-server, MCP server, submitter, two joiners, gateway, console
      pids.forEach((pid) => expect(alive(pid)).toBe(true));
      // The console it printed answers (from this machine, without tokens).
      const consoleUrl = /console\s+(http:\/\/\S+)/.exec(out)?.[1];
      expect(consoleUrl).toBeDefined();
      expect((await fetch(new URL('/api/me', consoleUrl))).status).toBe(200);

      // The printed gateway URL serves the example server's tools to MCP hosts.
      const gatewayUrl = /gateway\s+(http:\/\/\S+\/mcp)/.exec(out)?.[1];
      expect(gatewayUrl).toBeDefined();
      const listing = await fetch(gatewayUrl!, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(listing.status).toBe(200);
      expect(await listing.text()).toContain('"demo__echo"');

      // Another terminal in the same directory finds dev's NATS without any setting.
      expect(existsSync(join(cwd, '.mcpq', 'nats'))).toBe(true);
      const call = spawnSync(process.execPath, [ENTRY.cli, 'call', 'demo', 'echo', '--arg', 'text=hi', '--wait'], {
        cwd,
        env: { ...env, MCPQ_CONFIG: '', MCPQ_DEV_DIR: '' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(call.status).toBe(0);
      expect(call.stdout).toMatch(/"status":"completed"/);

      process.kill(-dev.pid!, 'SIGINT');
      // pnpm itself ends by the signal, as it does at a terminal; mcpq dev exits 0 once everything is stopped.
      const exit = await exited;
      expect(exit.code === 0 || exit.signal === 'SIGINT').toBe(true);
      await waitFor('every process it started has exited', () => pids.every((pid) => !alive(pid)), 20_000);
    } finally {
      try {
        process.kill(-dev.pid!, 'SIGKILL'); // whatever is left of the group after a failure
      } catch {
        // nothing left: the normal case
      }
    }
  });
});

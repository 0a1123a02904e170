/**
 * The official MCP conformance suite (@modelcontextprotocol/conformance,
 * client scenarios) with mcpq as the client: the suite starts its scenario
 * server, runs packages/testkit's conformance-client (a nats-server, a
 * submitter and a joiner pointed at that server, one call submitted through
 * the wire contract), and judges what reached its server. Node 20 runs the
 * suite with `--import node20-fs-glob.mjs` (docs/operations.md, "Conformance").
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const require = createRequire(import.meta.url);
const suite = join(dirname(require.resolve('@modelcontextprotocol/conformance/package.json')), 'dist', 'index.js');
const command = `node ${join(root, 'packages', 'testkit', 'dist', 'conformance-client.js')}`;

interface Check {
  id: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | string;
  errorMessage?: string;
}

/** Runs one client scenario; returns every check it recorded and the suite's output. */
async function runScenario(scenario: string): Promise<{ checks: Check[]; output: string }> {
  const out = mkdtempSync(join(tmpdir(), `mcpq-conformance-${scenario}-`));
  try {
    const args = ['--import', join(here, 'node20-fs-glob.mjs'), suite, 'client', '--command', command, '--scenario', scenario, '-o', out];
    const output = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, args, { cwd: out, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (c: Buffer) => (text += c.toString()));
      child.stderr.on('data', (c: Buffer) => (text += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.on('exit', () => {
        clearTimeout(timer);
        resolve(text);
      });
    });
    return { checks: findChecks(out), output };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function findChecks(dir: string): Check[] {
  const found: Check[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findChecks(path));
    else if (name === 'checks.json') found.push(...(JSON.parse(readFileSync(path, 'utf8')) as Check[]));
  }
  return found;
}

describe('MCP conformance suite, client scenarios, mcpq as the client', () => {
  it.each([
    ['initialize', 'mcp-client-initialization'],
    ['tools_call', 'tool-add-numbers'],
    ['sse-retry', 'client-sse-graceful-reconnect'],
  ])('%s: no FAILURE, and the scenario check %s succeeds', async (scenario, key) => {
    const { checks, output } = await runScenario(scenario);
    const failures = checks.filter((c) => c.status === 'FAILURE');
    expect(failures, output).toEqual([]);
    expect(checks.find((c) => c.id === key)?.status, output).toBe('SUCCESS');
  });
});

/**
 * The public packages work as a stranger installs them: `pnpm pack` the
 * contract and the client, install the tarballs with npm into an empty
 * project outside the workspace, and from there submit a call through
 * running services, read its one result and run `npx mcpq --version`.
 * The client stays light: no logger, metrics, MCP SDK or service code.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../helpers/harness.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const PUBLIC = ['contract', 'client'] as const;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking this process (the example MCP server runs in it). */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  // As a stranger's shell: without the npm_config_* settings pnpm passes to the processes it runs.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_config_')));
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { cwd, env: { ...clean, ...env }, encoding: 'utf8', timeout: 240_000 }, (_err, stdout, stderr) =>
      resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
}

describe('the published packages, installed with npm outside the workspace', () => {
  let project: string;
  let h: Harness;
  const tarballs: Record<string, string> = {};

  beforeAll(async () => {
    project = mkdtempSync(join(tmpdir(), 'mcpq-pack-'));
    for (const name of PUBLIC) {
      const out = execFileSync('pnpm', ['pack', '--pack-destination', project], { cwd: `${root}packages/${name}`, encoding: 'utf8' });
      tarballs[name] = out.trim().split('\n').at(-1)!.trim();
    }
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({
        name: 'stranger',
        private: true,
        type: 'module',
        dependencies: { '@mcpq/contract': `file:${tarballs.contract}`, '@mcpq/client': `file:${tarballs.client}` },
        // The client's dependency on @mcpq/contract is met by the tarball, not the registry.
        overrides: { '@mcpq/contract': '$@mcpq/contract' },
      }),
    );
    const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], project);
    if (install.code !== 0) throw new Error(`npm install failed: ${install.stderr}`);
    h = await createHarness();
    await h.start('submitter');
    await h.start('joiner');
  }, 300_000);
  afterAll(async () => {
    await h?.close();
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it('each tarball holds the built code, types, README, LICENSE and package.json, and no sources or build info', () => {
    for (const name of PUBLIC) {
      const files = execFileSync('tar', ['-tzf', tarballs[name]!], { encoding: 'utf8' }).trim().split('\n');
      expect(files).toContain('package/package.json');
      expect(files).toContain('package/README.md');
      // The package's LICENSE is the repository's (a copy in the package directory: npm packs only what is there).
      expect(files).toContain('package/LICENSE');
      expect(execFileSync('tar', ['-xzOf', tarballs[name]!, 'package/LICENSE'], { encoding: 'utf8' })).toBe(
        readFileSync(`${root}LICENSE`, 'utf8'),
      );
      expect(files).toContain('package/dist/index.js');
      expect(files).toContain('package/dist/index.d.ts');
      expect(files.filter((f) => f.startsWith('package/src/') || f.endsWith('.tsbuildinfo'))).toEqual([]);
      const manifest = JSON.parse(readFileSync(join(project, 'node_modules', '@mcpq', name, 'package.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(manifest).toMatchObject({ version: expect.any(String), license: 'MIT', types: './dist/index.d.ts' });
      expect(JSON.stringify(manifest.dependencies ?? {})).not.toContain('workspace:');
    }
  });

  it('installs light: no logger, metrics, MCP SDK or service package comes with the client; of OpenTelemetry only the API (its peer)', () => {
    const installed = readdirSync(join(project, 'node_modules'));
    expect(installed.filter((d) => ['pino', 'prom-client', '@modelcontextprotocol'].includes(d))).toEqual([]);
    expect(existsSync(join(project, 'node_modules', '@mcpq', 'shared'))).toBe(false);
    // npm installs the client's peer @opentelemetry/api (dependency-free); no SDK or exporter comes with it.
    expect(readdirSync(join(project, 'node_modules', '@opentelemetry'))).toEqual(['api']);
    const api = JSON.parse(readFileSync(join(project, 'node_modules', '@opentelemetry', 'api', 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    expect(api.dependencies ?? {}).toEqual({});
  });

  it('a program importing @mcpq/client submits a call through the running services and reads its one result', async () => {
    writeFileSync(
      join(project, 'call.mjs'),
      `import { McpqClient } from '@mcpq/client';
const client = await McpqClient.connect({ servers: process.env.NATS_URL, prefix: process.env.MCPQ_PREFIX });
const { callId } = await client.submit('demo', 'slow', { durationMs: 300, steps: 2 });
const result = await client.result(callId, { timeoutMs: 60000 });
console.log(JSON.stringify(result));
await client.close();
`,
    );
    const r = await run('node', ['call.mjs'], project, { NATS_URL: h.nats.url, MCPQ_PREFIX: h.config.prefix, MCPQ_CONFIG: '' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as { status: string; callId: string };
    expect(result.status).toBe('completed');
    expect((await h.storedEvents(result.callId)).results).toHaveLength(1);
  });

  it('npx mcpq --version prints the package version; commands needing the services say where to run them', async () => {
    const version = await run('npx', ['--no-install', 'mcpq', '--version'], project);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(
      (JSON.parse(readFileSync(`${root}packages/client/package.json`, 'utf8')) as { version: string }).version,
    );
    const provision = await run('npx', ['--no-install', 'mcpq', 'provision'], project, { NATS_URL: h.nats.url });
    expect(provision.code).not.toBe(0);
    expect(provision.stderr).toMatch(/needs the mcpq services \(@mcpq\/shared\)/);
  });
});

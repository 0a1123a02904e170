/**
 * Dependencies mcpq patches (pnpm `patchedDependencies`, patches/): each
 * patch is applied to the copy the services load. A patch that stops
 * applying (a version bump, an install without it) must fail here, not
 * quietly cost what it saved.
 *
 * @nats-io/nats-core 3.4.0: RequestOne released every settled request with
 * cancel(), which builds a RequestError with a stack trace that nothing
 * reads: 2.4-3.6 % of the submitter's CPU and ~4 % of a client's at
 * concurrency 32 (bench --profile). Upstream nats.js has the same code; drop
 * the patch once a release releases settled requests without an error.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('../../', import.meta.url));
const workspace = parse(readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8')) as { patchedDependencies?: Record<string, string> };

/** The lines a patch adds, without its diff markers. */
function addedLines(patch: string): string[] {
  return patch
    .split('\n')
    .filter((l) => l.startsWith('+') && !l.startsWith('+++'))
    .map((l) => l.slice(1).trim())
    .filter((l) => l.length > 0);
}

describe('patched dependencies', () => {
  it('lists the nats-core patch', () => {
    expect(Object.keys(workspace.patchedDependencies ?? {})).toContain('@nats-io/nats-core@3.4.0');
  });

  it('every patch is applied to the copy the services resolve', () => {
    // Resolved from the shared package, as the services do.
    const fromShared = createRequire(join(root, 'packages/shared/package.json'));
    for (const [spec, patchFile] of Object.entries(workspace.patchedDependencies ?? {})) {
      const name = spec.slice(0, spec.lastIndexOf('@'));
      const version = spec.slice(spec.lastIndexOf('@') + 1);
      const entry = fromShared.resolve(name);
      let dir = dirname(entry);
      while (!dir.endsWith(join('node_modules', name))) dir = dirname(dir);
      expect((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version).toBe(version);
      const patch = readFileSync(join(root, patchFile), 'utf8');
      const files = [...patch.matchAll(/^\+\+\+ b\/(.+)$/gm)].map((m) => m[1]!);
      expect(files.length).toBeGreaterThan(0);
      const patched = files.map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
      for (const line of addedLines(patch)) expect(patched, `${spec}: "${line}" not applied`).toContain(line);
    }
  });
});

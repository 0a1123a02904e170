// Node's fs, plus the `globSync` Node 22 added, from tinyglobby (see node20-fs-glob.mjs).
import fs from 'node:fs';
import { globSync as tinyGlobSync } from 'tinyglobby';

export * from 'node:fs';
export default fs;

/** fs.globSync(pattern, { cwd, exclude }) as Node 22 has it, for string results. */
export function globSync(pattern, options = {}) {
  const exclude = typeof options.exclude === 'function' ? undefined : options.exclude;
  return tinyGlobSync(pattern, { cwd: options.cwd, ignore: exclude, onlyFiles: false, expandDirectories: false });
}

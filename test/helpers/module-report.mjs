/**
 * A preload for service processes under test (`node --import`): when the
 * process exits, it writes the names of the built-in modules it loaded that
 * belong to undici (fetch, Headers, Response, Request) to
 * $MCPQ_TEST_MODULES_FILE, as JSON. Node 20 lists undici as
 * 'NativeModule internal/deps/undici/undici' once any of those is touched.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.MCPQ_TEST_MODULES_FILE;
if (!file) throw new Error('module-report: MCPQ_TEST_MODULES_FILE is not set');

process.on('exit', () => {
  writeFileSync(file, JSON.stringify(process.moduleLoadList.filter((name) => name.includes('undici'))));
});

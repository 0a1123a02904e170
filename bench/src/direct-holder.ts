/**
 * Child process of the benchmark: a direct SDK Client that starts M long
 * calls on one Streamable HTTP transport and holds them, so the benchmark
 * can read what holding them costs (RSS, CPU) from outside.
 * Usage: node direct-holder.js <url> <calls> <durationMs>
 * Prints "connected" once ready, then "holding" once every call is sent.
 * A line "heap" on stdin answers "heap <bytes>": the live heap after a full GC.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { getHeapStatistics } from 'node:v8';

const [url, callsText, durationText] = process.argv.slice(2);
const calls = Number(callsText);
const durationMs = Number(durationText);
const client = new Client({ name: 'mcpq-bench-holder', version: '0.1.0' });
await client.connect(new StreamableHTTPClientTransport(new URL(url!)));
// Each "heap" line on stdin gets the live heap after a full GC (run with --expose-gc); "go" starts the calls.
const commands: string[] = [];
let wake: (() => void) | undefined;
process.stdin.on('data', (chunk: Buffer) => {
  for (const line of chunk.toString().split('\n').filter(Boolean)) {
    if (line === 'heap') {
      globalThis.gc?.();
      process.stdout.write(`heap ${getHeapStatistics().used_heap_size}\n`);
    } else {
      commands.push(line);
      wake?.();
    }
  }
});
process.stdout.write('connected\n');
await new Promise<void>((r) => (commands.length > 0 ? r() : (wake = r)));
const pending: Array<Promise<unknown>> = [];
for (let i = 0; i < calls; i++) {
  pending.push(
    client
      .callTool({ name: 'slow', arguments: { durationMs, steps: Math.max(1, Math.round(durationMs / 10_000)), tag: `h${i}` } }, undefined, {
        timeout: durationMs * 3,
        resetTimeoutOnProgress: true,
      })
      .catch(() => undefined),
  );
}
process.stdout.write('holding\n');
process.on('SIGTERM', () => process.exit(0));
await Promise.all(pending);

/**
 * Child process of the benchmark: what a TypeScript user would run instead of
 * mcpq's services, a BullMQ Worker whose processor makes the MCP call with the
 * official SDK Client (one Streamable HTTP transport per process) and returns
 * the CallToolResult as the job's return value.
 * Usage: node worker.js <queueName> <mcpUrl> <concurrency>   (REDIS_URL from the environment)
 * Prints "ready" once the worker takes jobs; exits 0 on SIGTERM after closing.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

interface CallJob {
  tool: string;
  arguments: Record<string, unknown>;
}

const [queueName, mcpUrl, concurrencyText] = process.argv.slice(2);
const client = new Client({ name: 'mcpq-bench-bullmq', version: '0.1.0' });
await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl!)));
// A Worker's connection must retry forever (maxRetriesPerRequest null), as BullMQ's docs require.
const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
const worker = new Worker<CallJob>(queueName!, async (job) => client.callTool({ name: job.data.tool, arguments: job.data.arguments }), {
  connection,
  concurrency: Number(concurrencyText),
});
await worker.waitUntilReady();
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void (async () => {
    await worker.close();
    await client.close();
    connection.disconnect();
    process.exit(0);
  })();
});

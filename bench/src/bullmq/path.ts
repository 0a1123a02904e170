/**
 * The BullMQ path of the benchmark: a Queue and QueueEvents in the benchmark
 * process (the caller's side, like McpqClient) and BullMQ Workers as child
 * processes (like mcpq's services), each making the MCP call with the SDK
 * Client. One queue per run, with a unique name, obliterated at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** How the BullMQ side is set up, reported next to its figures. */
export interface BullmqSetup {
  redisUrl: string;
  /** Worker processes (children of the benchmark, like mcpq's joiners). */
  workers: number;
  /** Jobs each worker runs at once. */
  concurrency: number;
  bullmqVersion: string;
}

/** A Redis URL with any password replaced, fit for a report. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable REDIS_URL)';
  }
}

/**
 * Whether a Redis answers at `url` (PING within `timeoutMs`); the reason when not.
 * Never retries: a missing Redis skips the BullMQ rows, it does not fail the run.
 */
export async function probeRedis(url: string, timeoutMs = 2_000): Promise<string | undefined> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)),
    ]);
    return undefined;
  } catch (err) {
    return `no Redis answered at ${redactUrl(url)}: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    redis.disconnect();
  }
}

export class BullmqPath {
  private failures = 0;

  private constructor(
    readonly setup: BullmqSetup,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly connection: Redis,
    private readonly workers: ChildProcess[],
  ) {}

  static async start(options: { redisUrl: string; mcpUrl: string; workers: number; concurrency: number }): Promise<BullmqPath> {
    const name = `mcpq-bench-${process.pid}-${Date.now().toString(36)}`;
    const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue(name, { connection });
    // Each job.waitUntilFinished adds a 'closing' listener to the queue until the job ends:
    // with many calls waiting at once that is expected, not a leak.
    queue.setMaxListeners(0);
    const events = new QueueEvents(name, { connection });
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    const workers: ChildProcess[] = [];
    const path = new BullmqPath(
      {
        redisUrl: redactUrl(options.redisUrl),
        workers: options.workers,
        concurrency: options.concurrency,
        bullmqVersion: bullmqVersion(),
      },
      queue,
      events,
      connection,
      workers,
    );
    try {
      for (let i = 0; i < options.workers; i++) {
        const child = spawn(
          process.execPath,
          [fileURLToPath(new URL('./worker.js', import.meta.url)), name, options.mcpUrl, String(options.concurrency)],
          { env: { ...process.env, REDIS_URL: options.redisUrl }, stdio: ['ignore', 'pipe', 'inherit'] },
        );
        workers.push(child);
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('bench: a BullMQ worker did not start within 20 s')), 20_000);
          child.once('exit', (code) => reject(new Error(`bench: a BullMQ worker exited while starting (code ${code})`)));
          child.stdout!.on('data', (c: Buffer) => {
            if (c.toString().includes('ready')) {
              clearTimeout(timer);
              resolve();
            }
          });
        });
      }
    } catch (err) {
      await path.close();
      throw err;
    }
    return path;
  }

  get pids(): number[] {
    return this.workers.map((w) => w.pid!);
  }

  /** Calls that did not complete with a result since the last read (the read resets the count). */
  takeFailures(): number {
    const n = this.failures;
    this.failures = 0;
    return n;
  }

  /** One tool call through the queue: add the job, wait for the worker's result. */
  async call(tool: string, args: Record<string, unknown>): Promise<void> {
    const job = await this.queue.add('call', { tool, arguments: args });
    try {
      const result = (await job.waitUntilFinished(this.events, 60_000)) as { isError?: boolean } | undefined;
      if (!result || result.isError) this.failures++;
    } catch {
      // The job failed (its processor threw) or no result came within the bound: counted, not fatal.
      this.failures++;
    }
  }

  /** Stops the workers, removes the run's queue from Redis and disconnects. */
  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.exitCode !== null || w.signalCode !== null) return resolve();
            const timer = setTimeout(() => w.kill('SIGKILL'), 10_000);
            w.once('exit', () => (clearTimeout(timer), resolve()));
            w.kill('SIGTERM');
          }),
      ),
    );
    await this.queue.obliterate({ force: true }).catch(() => undefined);
    await this.events.close().catch(() => undefined);
    await this.queue.close().catch(() => undefined);
    this.connection.disconnect();
  }
}

function bullmqVersion(): string {
  const pkg = createRequire(import.meta.url).resolve('bullmq/package.json');
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

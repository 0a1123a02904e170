/**
 * One benchmark environment: its own nats-server (file storage, monitoring
 * on), the example MCP server, a submitter and joiners, each a separate
 * process so their memory and CPU can be read apart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McpqClient } from '@mcpq/client';
import { ENTRY, freePort, ServiceProcess, startNatsServer, type NatsServer, type ServiceKind } from '@mcpq/testkit';
import type { ConfigInput } from '@mcpq/shared';

export interface EnvironmentOptions {
  joiners: number;
  /** Config fields over the defaults. */
  config?: ConfigInput;
  /** Node flags for the services (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** pollInterval the example server suggests for tasks. */
  taskPollMs?: number;
}

export class Environment {
  readonly services: ServiceProcess[] = [];
  private counter = 0;

  private constructor(
    readonly nats: NatsServer,
    private readonly mcpServer: ChildProcess,
    readonly mcpUrl: string,
    readonly configPath: string,
    private readonly dir: string,
    readonly client: McpqClient,
    private readonly options: EnvironmentOptions,
  ) {}

  static async start(options: EnvironmentOptions): Promise<Environment> {
    const nats = await startNatsServer();
    const port = await freePort();
    const mcpServer = spawn(
      process.execPath,
      [
        ENTRY.exampleServer,
        '--port',
        String(port),
        '--tasks',
        ...(options.taskPollMs ? ['--task-poll-ms', String(options.taskPollMs)] : []),
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const mcpUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the example MCP server did not start')), 10_000);
      mcpServer.stdout!.once('data', (chunk: Buffer) => {
        clearTimeout(timer);
        resolve((JSON.parse(chunk.toString().split('\n')[0]!) as { url: string }).url);
      });
    });
    const dir = mkdtempSync(join(tmpdir(), 'mcpq-bench-'));
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify({ ...options.config, servers: { bench: { url: mcpUrl } }, log: { level: 'warn' } }));
    const client = await McpqClient.connect({ servers: nats.url, config: undefined });
    const env = new Environment(nats, mcpServer, mcpUrl, configPath, dir, client, options);
    await env.start('submitter');
    for (let i = 0; i < options.joiners; i++) await env.start('joiner');
    return env;
  }

  get joiners(): ServiceProcess[] {
    return this.services.filter((s) => s.kind === 'joiner' && s.running);
  }

  get submitter(): ServiceProcess {
    return this.services.find((s) => s.kind === 'submitter' && s.running)!;
  }

  get mcpPid(): number {
    return this.mcpServer.pid!;
  }

  async start(kind: ServiceKind): Promise<ServiceProcess> {
    const httpPort = await freePort();
    const svc = new ServiceProcess(
      kind,
      `${kind}-${++this.counter}`,
      { NATS_URL: this.nats.url, MCPQ_CONFIG: this.configPath, MCPQ_HTTP_PORT: String(httpPort), MCPQ_CONFIG_JSON: '', MCPQ_PREFIX: '' },
      httpPort,
      this.options.nodeArgs ? { nodeArgs: this.options.nodeArgs } : {},
    );
    this.services.push(svc);
    await svc.ready();
    return svc;
  }

  /** Sum of one metric over the running joiners. */
  async joinersMetric(name: string): Promise<number> {
    return (await Promise.all(this.joiners.map((j) => j.metric(name)))).reduce((a, b) => a + b, 0);
  }

  /** Live heap of the running joiners after a full GC, summed (their /debug/heap: needs nodeArgs --expose-gc). */
  async joinersHeap(): Promise<number> {
    return (await Promise.all(this.joiners.map(liveHeap))).reduce((a, b) => a + b, 0);
  }

  /**
   * Runs `calls` short calls end to end, 20 at a time, so that measurements
   * start from processes that have worked (code compiled, connections open), not fresh ones.
   */
  async warm(calls = 100): Promise<void> {
    for (let i = 0; i < calls; i += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, calls - i) }, (_, k) =>
          this.client.submit('bench', 'echo', { text: `warm${i + k}` }).then((r) => this.client.result(r.callId, { timeoutMs: 30_000 })),
        ),
      );
    }
  }

  /**
   * Runs `calls` calls that outlast the submitter's answer window, so that the
   * joiners follow them in resume mode to the end: the held path's code is
   * then compiled before a measurement starts, and its heap is not counted
   * as the held calls' own.
   */
  async warmHeld(calls = 20): Promise<void> {
    await Promise.all(
      Array.from({ length: calls }, (_, k) =>
        this.client
          .submit('bench', 'slow', { durationMs: 1_500, steps: 2, label: `warm-held${k}` })
          .then((r) => this.client.result(r.callId, { timeoutMs: 60_000 })),
      ),
    );
  }

  /**
   * Runs `calls` task-mode calls (the example server's `slow_task`) at once to
   * the end, so that the joiners have followed tasks before a measurement
   * starts: `echo` calls end in the submitter, and a joiner's first requests
   * to an MCP server compile its HTTP and task-watching code and open its
   * connections (before node:http, they loaded Node's fetch: about 30 MB of
   * RSS once per process, see bench/README.md), which is not the parked
   * calls' own cost.
   */
  async warmTasks(calls = 50): Promise<void> {
    await Promise.all(
      Array.from({ length: calls }, (_, k) =>
        this.client
          .submit('bench', 'slow_task', { durationMs: 1_500, steps: 1, label: `warm-task${k}` })
          .then((r) => this.client.result(r.callId, { timeoutMs: 60_000 })),
      ),
    );
  }

  /** Counters of the NATS server (/varz): messages and bytes in and out. */
  async natsTraffic(): Promise<{ inMsgs: number; outMsgs: number; inBytes: number; outBytes: number }> {
    const varz = (await (await fetch(`http://127.0.0.1:${this.nats.httpPort}/varz`)).json()) as Record<string, number>;
    return { inMsgs: varz.in_msgs!, outMsgs: varz.out_msgs!, inBytes: varz.in_bytes!, outBytes: varz.out_bytes! };
  }

  async close(): Promise<void> {
    await Promise.all(this.services.map((s) => s.stop(10_000)));
    await this.client.close().catch(() => undefined);
    this.mcpServer.kill('SIGTERM');
    await this.nats.dispose();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Live heap of one service after a full GC (its /debug/heap, served under --expose-gc). */
export async function liveHeap(service: ServiceProcess): Promise<number> {
  return (JSON.parse((await service.http('/debug/heap')).body) as { usedHeapBytes: number }).usedHeapBytes;
}

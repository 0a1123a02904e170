/**
 * Runs mcpq's services as child processes (their real entry points, built
 * dist/main.js), so tests can SIGTERM or SIGKILL them like an operator or a
 * crash would. Log lines (pino JSON) are kept for assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SERVICE_NODE_FLAGS } from '@mcpq/shared';

/** The repository root (this file is packages/testkit/dist/service-process.js when it runs). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const root = REPO_ROOT;
export const ENTRY = {
  submitter: `${root}services/submitter/dist/main.js`,
  joiner: `${root}services/joiner/dist/main.js`,
  gateway: `${root}services/gateway/dist/main.js`,
  cli: `${root}packages/client/dist/cli.js`,
  exampleServer: `${root}examples/mcp-server/dist/main.js`,
} as const;

export type ServiceKind = 'submitter' | 'joiner' | 'gateway';

export interface LogLine {
  level?: string;
  msg?: string;
  callId?: string;
  [k: string]: unknown;
}

export interface ServiceProcessOptions {
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** Script to run instead of the service's entry point (with `args`). */
  script?: string;
  args?: string[];
}

export class ServiceProcess {
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly proc: ChildProcess;

  constructor(
    readonly kind: ServiceKind,
    readonly name: string,
    env: NodeJS.ProcessEnv,
    /** Port of the service's /healthz, /readyz and /metrics (0 when off). */
    readonly httpPort = 0,
    options: ServiceProcessOptions = {},
  ) {
    // The flags the service ships with (the image, compose, Kubernetes), unless another script runs in its place.
    const shipped = options.script ? [] : SERVICE_NODE_FLAGS[kind];
    const argv = [...shipped, ...(options.nodeArgs ?? []), options.script ?? ENTRY[kind], ...(options.args ?? [])];
    this.proc = spawn(process.execPath, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    const onData = (chunk: Buffer) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.raw.push(line);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ msg: line });
        }
      }
    };
    this.proc.stdout?.on('data', onData);
    this.proc.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /**
   * Resolves when the service runs: its /readyz answers 200 (when it has an
   * HTTP port), else it logged that it runs. Rejects if it exits first or
   * after `timeoutMs`.
   */
  async ready(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const isReady = async () =>
      this.httpPort > 0
        ? (await this.http('/readyz').catch(() => ({ status: 0 }))).status === 200
        : this.lines.some((l) => typeof l.msg === 'string' && l.msg.endsWith(' running'));
    while (!(await isReady())) {
      if (!this.running) throw new Error(`${this.name} exited while starting:\n${this.raw.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`${this.name} not ready after ${timeoutMs} ms:\n${this.raw.join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.running) this.proc.kill(signal);
  }

  /** SIGTERM and wait for the exit (bounded). */
  async stop(timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  logs(filter: (l: LogLine) => boolean = () => true): LogLine[] {
    return this.lines.filter(filter);
  }

  /** GET a path of the service's HTTP endpoint. */
  async http(path: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`http://127.0.0.1:${this.httpPort}${path}`, { signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: await res.text() };
  }

  /** The value of one Prometheus sample (summed over label sets matching `labels`). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const { body } = await this.http('/metrics');
    let sum = 0;
    for (const line of body.split('\n')) {
      if (!line.startsWith(name)) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (!m || m[1] !== name) continue;
      const lbl = m[2] ?? '';
      if (Object.entries(labels).every(([k, v]) => lbl.includes(`${k}="${v}"`))) sum += Number(m[3]);
    }
    return sum;
  }
}

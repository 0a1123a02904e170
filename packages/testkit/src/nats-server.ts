/**
 * Starts real nats-server processes for tests: a random port, a temporary
 * store directory, JetStream on. The server can be killed and restarted on
 * the same port and store (file storage survives). The binary comes from
 * NATS_SERVER_BIN, PATH or /usr/sbin; set MCPQ_TEST_NATS_URL to run the tests
 * that do not need to control the server against an existing one instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, natsServerBinary, waitForPort } from '@mcpq/shared';

// The port and binary helpers live in @mcpq/shared (mcpq dev uses them too); tests import them from here.
export { freePort, natsServerBinary, portIsFree, waitForPort } from '@mcpq/shared';

export interface NatsServer {
  url: string;
  port: number;
  storeDir: string;
  /** Monitoring port (http://127.0.0.1:<port>/varz, /jsz). */
  httpPort: number;
  /** The running server's process id (undefined for an external server or one stopped). */
  readonly pid: number | undefined;
  /** SIGKILL. */
  kill(): Promise<void>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** Starts again on the same port and store directory. */
  restart(): Promise<void>;
  /** Stops and removes the store directory. */
  dispose(): Promise<void>;
  readonly external: boolean;
}

export interface StartNatsOptions {
  /** Use MCPQ_TEST_NATS_URL when it is set (only for tests that never kill the server). */
  allowExternal?: boolean;
  /** Extra nats-server arguments (e.g. a config file). */
  args?: string[];
}

export async function startNatsServer(options: StartNatsOptions = {}): Promise<NatsServer> {
  const externalUrl = process.env.MCPQ_TEST_NATS_URL;
  if (options.allowExternal && externalUrl) {
    const noop = async () => undefined;
    return {
      url: externalUrl,
      port: Number(new URL(externalUrl.replace('nats://', 'http://')).port),
      storeDir: '',
      httpPort: 0,
      pid: undefined,
      kill: noop,
      stop: noop,
      restart: noop,
      dispose: noop,
      external: true,
    };
  }
  const bin = natsServerBinary();
  if (!bin)
    throw new Error('nats-server not found: install it (apt-get install -y nats-server), set NATS_SERVER_BIN, or set MCPQ_TEST_NATS_URL');
  const port = await freePort();
  const httpPort = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'mcpq-nats-'));
  let proc: ChildProcess | undefined;
  const launch = async () => {
    proc = spawn(bin, ['-a', '127.0.0.1', '-p', String(port), '-m', String(httpPort), '-js', '-sd', storeDir, ...(options.args ?? [])], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr?.on('data', (c: Buffer) => {
      if (stderr.length < 10_000) stderr += c.toString();
    });
    try {
      await waitForPort(port, 10_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}; nats-server said: ${stderr}`);
    }
  };
  const waitExit = (signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.kill(signal);
    });
  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    httpPort,
    get pid() {
      return proc?.exitCode === null && proc.signalCode === null ? proc.pid : undefined;
    },
    external: false,
    kill: () => waitExit('SIGKILL'),
    stop: () => waitExit('SIGTERM'),
    restart: launch,
    dispose: async () => {
      await waitExit('SIGTERM');
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

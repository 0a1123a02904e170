/**
 * `mcpq dev`: the whole system on this machine, from a checkout. Starts a
 * nats-server from PATH (unless NATS_URL is set) with its data under
 * .mcpq/, the example MCP server, a submitter, joiners and a gateway (an
 * MCP server in front of mcpq, for MCP hosts), prints what to
 * try next, and stops everything it started on Ctrl-C. With --demo it runs
 * one call and shows its progress; --once stops after that call.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SERVICE_NODE_FLAGS } from '@mcpq/contract';
import { McpqClient } from '../client.js';
import { UsageError } from './args.js';
import { loadServices } from './services.js';
import type { Command } from './commands.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { renderer } from './render.js';

const repoRoot = resolve(fileURLToPath(new URL('../../../../', import.meta.url)));
/** The services' entry points in a built checkout. */
export const entry = {
  submitter: join(repoRoot, 'services/submitter/dist/main.js'),
  joiner: join(repoRoot, 'services/joiner/dist/main.js'),
  gateway: join(repoRoot, 'services/gateway/dist/main.js'),
  example: join(repoRoot, 'examples/mcp-server/dist/main.js'),
  console: join(repoRoot, 'packages/console/dist/main.js'),
};

/** File (in the dev directory) where `mcpq dev` leaves its NATS URL for other mcpq commands run in the same directory. */
export const DEV_ENV_FILE = 'dev-env.json';

interface Child {
  name: string;
  proc: ChildProcess;
}

export const dev: Command = {
  summary: 'run everything locally: nats-server, example MCP server, a submitter, joiners, a gateway',
  usage: `mcpq dev [--demo] [--once] [--joiners N]

  --demo        submit one call of the example 'slow' tool and show its progress
  --once        with --demo: stop everything after the demo call (exit code from its result)
  --joiners N   joiner processes to start (default 2)

  Uses NATS_URL when set; otherwise starts nats-server (from PATH or /usr/sbin) on
  port 4222, or a free port when 4222 is taken, with its data in .mcpq/nats.
  MCPQ_DEV_DIR moves .mcpq (data, logs, config) elsewhere.`,
  async run(argv) {
    const { freePort, natsServerBinary, portIsFree, waitForPort } = await loadServices('dev');
    const { values } = parseArgs({
      args: argv,
      options: {
        demo: { type: 'boolean', default: false },
        once: { type: 'boolean', default: false },
        joiners: { type: 'string', default: '2' },
        help: { type: 'boolean', default: false },
      },
    });
    const joiners = Number(values.joiners);
    if (!Number.isInteger(joiners) || joiners < 1) throw new UsageError('--joiners must be a positive integer');
    for (const [name, path] of Object.entries(entry)) {
      if (!existsSync(path))
        throw new UsageError(`mcpq dev runs from a built checkout of mcpq: ${name} not found at ${path} (run pnpm build)`);
    }
    const dir = resolve(process.env.MCPQ_DEV_DIR || '.mcpq');
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const children: Child[] = [];
    let stopping: Promise<void> | undefined;
    const stopAll = () => (stopping ??= stopChildren(children));
    const onSignal = () => {
      process.stdout.write('\nstopping...\n');
      stopAll().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    try {
      let natsUrl = process.env.NATS_URL;
      if (!natsUrl) {
        const port = (await portIsFree(4222)) ? 4222 : await freePort();
        const bin = findNatsServer(natsServerBinary());
        children.push(start('nats-server', bin, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(dir, 'nats')], dir));
        natsUrl = `nats://127.0.0.1:${port}`;
        await waitForPort(port, 10_000).catch(() => {
          throw new Error(`nats-server did not listen on port ${port} within 10000 ms (see .mcpq/logs/nats-server.log)`);
        });
      }
      const mcpPort = (await portIsFree(3000)) ? 3000 : 0;
      const example = start('mcp-server', process.execPath, [entry.example, '--port', String(mcpPort)], dir);
      children.push(example);
      const mcpUrl = await waitForListening(example, 10_000);
      const configPath = join(dir, 'config.json');
      writeFileSync(configPath, `${JSON.stringify({ servers: { demo: { url: mcpUrl } } }, null, 2)}\n`);
      writeFileSync(join(dir, DEV_ENV_FILE), `${JSON.stringify({ NATS_URL: natsUrl })}\n`);
      const env = { ...process.env, NATS_URL: natsUrl, MCPQ_CONFIG: configPath };
      const submitter = start('submitter', process.execPath, [entry.submitter], dir, env);
      children.push(submitter);
      const joinerProcs = Array.from({ length: joiners }, (_, i) =>
        start(`joiner-${i + 1}`, process.execPath, [...SERVICE_NODE_FLAGS.joiner, entry.joiner], dir, env),
      );
      children.push(...joinerProcs);
      const gatewayPort = (await portIsFree(4281)) ? 4281 : await freePort();
      const gateway = start('gateway', process.execPath, [entry.gateway], dir, { ...env, MCPQ_GATEWAY_PORT: String(gatewayPort) });
      children.push(gateway);
      await Promise.all([submitter, ...joinerProcs, gateway].map((c) => waitForLog(c, /running/, 20_000)));
      const gatewayUrl = `http://127.0.0.1:${gatewayPort}/mcp`;
      const uiPort = process.env.MCPQ_UI_PORT ? [] : ['--port', (await portIsFree(4280)) ? '4280' : '0'];
      const web = start('console', process.execPath, [entry.console, ...uiPort], dir, env);
      children.push(web);
      const consoleUrl = await waitForListening(web, 20_000);

      process.stdout.write(
        [
          `mcpq dev is running (pid ${process.pid}):`,
          `  NATS          ${natsUrl}${process.env.NATS_URL ? '' : ` (data in ${join(dir, 'nats')}), pid ${children[0]!.proc.pid}`}`,
          `  MCP server    demo -> ${mcpUrl} (tools: echo, slow, slow_idempotent, fail), pid ${example.proc.pid}`,
          `  submitter     pid ${submitter.proc.pid}, log .mcpq/logs/submitter.log`,
          ...joinerProcs.map((j) => `  ${j.name.padEnd(13)} pid ${j.proc.pid}, log .mcpq/logs/${j.name}.log`),
          `  gateway       ${gatewayUrl} (an MCP server for MCP hosts: tools demo__echo, demo__slow, ...), pid ${gateway.proc.pid}, log .mcpq/logs/gateway.log`,
          `  console       ${consoleUrl} (open it in a browser), pid ${web.proc.pid}`,
          '',
          'Try, in another terminal in this directory:',
          `  pnpm mcpq call demo slow --args '{"durationMs":5000,"steps":5,"label":"hello"}' --wait`,
          `  npx @modelcontextprotocol/inspector   (then connect to ${gatewayUrl}, transport Streamable HTTP)`,
          '',
        ].join('\n'),
      );

      if (values.demo) {
        const code = await runDemo(natsUrl);
        if (values.once) {
          await stopAll();
          return code;
        }
      }
      process.stdout.write('Ctrl-C stops everything.\n');
      for (const c of children) {
        c.proc.once('exit', (code, signal) => {
          if (!stopping) process.stderr.write(`${c.name} exited (${signal ?? code}); see .mcpq/logs/${c.name}.log\n`);
        });
      }
      // Runs until a signal stops everything (onSignal exits the process).
      return await new Promise<never>(() => undefined);
    } catch (err) {
      await stopAll();
      throw err;
    }
  },
};

async function runDemo(natsUrl: string): Promise<number> {
  const client = await McpqClient.connect({ servers: natsUrl });
  try {
    process.stdout.write('Demo: one call of demo/slow (5 s, 5 progress steps)\n');
    const { callId } = await client.submit('demo', 'slow', { durationMs: 5_000, steps: 5, label: 'hello from mcpq dev' });
    process.stdout.write(`callId ${callId}\n`);
    const r = renderer(false);
    let code: number = ExitCode.error;
    for await (const e of client.watch(callId, { timeoutMs: 60_000 })) {
      r.event(e);
      if (e.type === 'result') code = exitCodeFor(e);
    }
    r.done();
    return code;
  } finally {
    await client.close();
  }
}

function start(name: string, cmd: string, args: string[], dir: string, env: NodeJS.ProcessEnv = process.env): Child {
  const log = createWriteStream(join(dir, 'logs', `${name}.log`), { flags: 'a' });
  const proc = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout?.pipe(log, { end: false });
  proc.stderr?.pipe(log, { end: false });
  proc.once('error', (err) => process.stderr.write(`${name} could not start: ${err.message}\n`));
  return { name, proc };
}

async function stopChildren(children: Child[]): Promise<void> {
  // Reverse order: joiners and submitter first, NATS last, so the services drain into a live server.
  for (const group of [
    children.filter((c) => /joiner|submitter|gateway/.test(c.name)),
    children.filter((c) => !/joiner|submitter|gateway/.test(c.name)).reverse(),
  ]) {
    await Promise.all(group.map((c) => stopChild(c, 10_000)));
  }
}

function stopChild(c: Child, graceMs: number): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => c.proc.kill('SIGKILL'), graceMs);
    c.proc.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    c.proc.kill('SIGTERM');
  });
}

function findNatsServer(bin: string | undefined): string {
  if (!bin) throw new UsageError('nats-server not found on PATH or in /usr/sbin: install it (apt-get install nats-server) or set NATS_URL');
  return bin;
}

function waitForListening(child: Child, timeoutMs: number): Promise<string> {
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${child.name} did not start within ${timeoutMs} ms`)), timeoutMs);
    let buf = '';
    child.proc.stdout?.on('data', function onData(chunk: Buffer) {
      buf += chunk.toString();
      const m = /"event":"listening","url":"([^"]+)"/.exec(buf);
      if (m) {
        clearTimeout(timer);
        child.proc.stdout?.off('data', onData);
        res(m[1]!);
      }
    });
  });
}

function waitForLog(child: Child, pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((res, rej) => {
    const timer = setTimeout(
      () => rej(new Error(`${child.name} did not get ready within ${timeoutMs} ms (see .mcpq/logs/${child.name}.log)`)),
      timeoutMs,
    );
    let buf = '';
    const onData = (chunk: Buffer) => {
      buf += chunk.toString();
      if (pattern.test(buf)) {
        clearTimeout(timer);
        child.proc.stdout?.off('data', onData);
        res();
      }
    };
    child.proc.stdout?.on('data', onData);
    child.proc.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`${child.name} exited with code ${code} while starting (see .mcpq/logs/${child.name}.log)`));
    });
  });
}

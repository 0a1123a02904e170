/**
 * The client command the official MCP conformance suite runs
 * (`conformance client --command "node .../conformance-client.js"`), with
 * mcpq's services as the client: it starts a nats-server, a submitter and a
 * joiner pointed at the scenario's server (the URL the suite appends as the
 * last argument), submits the scenario's tool call through the wire
 * contract with the `mcpq` command line, waits for its result, prints it and
 * stops everything. The suite judges what reached its server.
 *
 * Scenario -> call: `MCP_CONFORMANCE_SCENARIO` picks the tool (see CALLS).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer } from './nats-server.js';
import { ENTRY, ServiceProcess } from './service-process.js';

/** The call each client scenario expects (a tool its server lists; `initialize` lists none, so any name does). */
const CALLS: Record<string, { tool: string; args: Record<string, unknown> }> = {
  initialize: { tool: 'conformance_probe', args: {} },
  tools_call: { tool: 'add_numbers', args: { a: 2, b: 3 } },
  'sse-retry': { tool: 'test_reconnection', args: {} },
};

/** Bound on the whole command (the suite's own timeout is 30 s by default). */
const CALL_TIMEOUT = '20s';

async function main(): Promise<number> {
  const url = process.argv.at(-1);
  const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
  const call = CALLS[scenario];
  if (!url || !/^https?:\/\//.test(url) || !call) {
    process.stderr.write(`usage: conformance-client <server-url> with MCP_CONFORMANCE_SCENARIO one of ${Object.keys(CALLS).join(', ')}\n`);
    return 1;
  }
  const dir = mkdtempSync(join(tmpdir(), 'mcpq-conformance-'));
  const nats = await startNatsServer();
  const services: ServiceProcess[] = [];
  try {
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify({ servers: { conformance: { url } }, joiner: { parkDelayMs: 100 } }));
    const env = { NATS_URL: nats.url, MCPQ_CONFIG: configPath, MCPQ_PREFIX: '', MCPQ_HTTP_PORT: '0', LOG_LEVEL: '' };
    for (const kind of ['submitter', 'joiner'] as const) {
      const svc = new ServiceProcess(kind, kind, env);
      services.push(svc);
      await svc.ready();
    }
    const code = await run(
      ENTRY.cli,
      ['call', 'conformance', call.tool, '--args', JSON.stringify(call.args), '--wait', '--timeout', CALL_TIMEOUT, '--json'],
      env,
    );
    // The suite's verdict is about what reached its server; a tool error or unknown tool still exits 0 here.
    return code === 0 || code === 2 || code === 3 ? 0 : code;
  } finally {
    await Promise.all(services.map((s) => s.stop(5_000)));
    for (const s of services) process.stderr.write(`${s.raw.join('\n')}\n`);
    await nats.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

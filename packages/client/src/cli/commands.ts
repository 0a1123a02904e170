/**
 * The call commands of `mcpq`: call (alias submit), watch, status, result,
 * cancel. Each reads its flags, talks to NATS through McpqClient and returns
 * an exit code.
 */
import { parseArgs } from 'node:util';
import { isMcpqError, ErrorCode, type ResultEvent } from '@mcpq/contract';
import { McpqClient, type CallEvent } from '../client.js';
import { buildArguments, parseDuration, UsageError } from './args.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { formatResult, renderer, wantsJson, type Renderer } from './render.js';

export interface Command {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

const common = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/**
 * Usage of the commands that wait on one call (watch, result). Their bound is
 * `--max-wait`, not `--timeout`: `mcpq call --timeout` is the call's own deadline.
 */
const WAIT_USAGE = `[--max-wait DUR] [--json]

  --max-wait DUR  stop waiting after DUR (exit ${ExitCode.waitTimeout}); the call goes on`;

/** The arguments of the commands that wait on one call: <callId> [--max-wait DUR] [--json]. */
function waitArgs(argv: string[]): { callId: string; json: boolean; timeoutMs: number | undefined } {
  if (argv.includes('--timeout') || argv.some((a) => a.startsWith('--timeout='))) {
    throw new UsageError("--timeout is the call's deadline (mcpq call --timeout); to bound how long this command waits use --max-wait");
  }
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...common, 'max-wait': { type: 'string' } } });
  const maxWait = values['max-wait'];
  return {
    callId: one(positionals, '<callId>'),
    json: values.json,
    timeoutMs: maxWait ? parseDuration(maxWait) : undefined,
  };
}

async function withClient<T>(fn: (client: McpqClient) => Promise<T>): Promise<T> {
  const client = await McpqClient.connect();
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Follows a call to its end, rendering each event; returns the exit code of its result. */
async function printEvents(client: McpqClient, callId: string, r: Renderer, timeoutMs?: number): Promise<number> {
  let result: ResultEvent | undefined;
  try {
    for await (const e of client.watch(callId, timeoutMs !== undefined ? { timeoutMs } : {})) {
      r.event(e);
      if (e.type === 'result') result = stripType(e);
    }
  } catch (err) {
    r.done();
    if (isMcpqError(err, ErrorCode.wait_timeout)) {
      process.stderr.write(`${err.message}\n`);
      return ExitCode.waitTimeout;
    }
    throw err;
  }
  r.done();
  return result ? exitCodeFor(result) : ExitCode.error;
}

function stripType(e: Extract<CallEvent, { type: 'result' }>): ResultEvent {
  const { type: _t, ...rest } = e;
  return rest;
}

export const call: Command = {
  summary: 'queue a tool call (and, with --wait, follow it to its result)',
  usage: `mcpq call <server> <tool> [--args JSON] [--arg key=value ...] [--wait] [--timeout 30s]
                [--idempotent] [--id CALL_ID] [--json]

  --args JSON        the tool's arguments as a JSON object
  --arg key=value    one argument (value parsed as JSON when it is JSON); repeatable
  --wait             follow the call: progress, then the result; exit code from the result
  --timeout DUR      bound the whole call (timeoutMs): it ends 'timeout' after DUR
  --idempotent       declare the call safe to run twice
  --id CALL_ID       use this call id instead of a random one
  --json             JSON lines even on a terminal`,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...common,
        args: { type: 'string' },
        arg: { type: 'string', multiple: true },
        wait: { type: 'boolean', default: false },
        timeout: { type: 'string' },
        idempotent: { type: 'boolean', default: false },
        id: { type: 'string' },
      },
    });
    const [server, tool] = positionals;
    if (!server || !tool || positionals.length > 2) throw new UsageError('expected <server> <tool>');
    const args = buildArguments(values.args, values.arg);
    const timeoutMs = values.timeout !== undefined ? parseDuration(values.timeout) : undefined;
    return withClient(async (client) => {
      const { callId } = await client.submit(server, tool, args, {
        ...(values.id ? { callId: values.id } : {}),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        ...(values.idempotent ? { idempotent: true } : {}),
      });
      const r = renderer(values.json);
      if (wantsJson(values.json)) process.stdout.write(`${JSON.stringify({ type: 'submitted', callId })}\n`);
      else process.stdout.write(`${callId}\n`);
      return values.wait ? printEvents(client, callId, r) : ExitCode.ok;
    });
  },
};

export const watch: Command = {
  summary: "print a call's events from the start, following it to its result",
  usage: `mcpq watch <callId> ${WAIT_USAGE}`,
  async run(argv) {
    const { callId, json, timeoutMs } = waitArgs(argv);
    return withClient((client) => printEvents(client, callId, renderer(json), timeoutMs));
  },
};

export const status: Command = {
  summary: "show a call's current state (from the KV record)",
  usage: 'mcpq status <callId> [--json]',
  async run(argv) {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: common });
    const callId = one(positionals, '<callId>');
    return withClient(async (client) => {
      const info = await client.status(callId);
      if (!info) {
        process.stderr.write(`no call ${callId} is known (a call still waiting in the queue has no record yet)\n`);
        return ExitCode.notFound;
      }
      if (wantsJson(values.json)) process.stdout.write(`${JSON.stringify(info)}\n`);
      else
        for (const [k, v] of Object.entries(info))
          if (v !== undefined) process.stdout.write(`${k.padEnd(12)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}\n`);
      return ExitCode.ok;
    });
  },
};

export const result: Command = {
  summary: "wait for a call's result and print it",
  usage: `mcpq result <callId> ${WAIT_USAGE}`,
  async run(argv) {
    const { callId, json, timeoutMs } = waitArgs(argv);
    return withClient(async (client) => {
      try {
        const r = await client.result(callId, timeoutMs !== undefined ? { timeoutMs } : {});
        process.stdout.write(wantsJson(json) ? `${JSON.stringify(r)}\n` : formatResult(r));
        return exitCodeFor(r);
      } catch (err) {
        if (!isMcpqError(err, ErrorCode.wait_timeout)) throw err;
        process.stderr.write(`${err.message}\n`);
        return ExitCode.waitTimeout;
      }
    });
  },
};

export const cancel: Command = {
  summary: 'cancel a call',
  usage: 'mcpq cancel <callId> [--reason TEXT] [--json]',
  async run(argv) {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...common, reason: { type: 'string' } } });
    const callId = one(positionals, '<callId>');
    return withClient(async (client) => {
      const reply = await client.cancel(callId, values.reason ? { reason: values.reason } : {});
      if (wantsJson(values.json)) process.stdout.write(`${JSON.stringify(reply)}\n`);
      else
        process.stdout.write(
          `${reply.accepted ? 'cancel recorded' : 'not cancelled'}: ${reply.status}${reply.detail ? ` (${reply.detail})` : ''}\n`,
        );
      return reply.status === 'invalid' || reply.status === 'error' ? ExitCode.error : ExitCode.ok;
    });
  },
};

function one(positionals: string[], what: string): string {
  if (positionals.length !== 1 || !positionals[0]) throw new UsageError(`expected ${what}`);
  return positionals[0];
}

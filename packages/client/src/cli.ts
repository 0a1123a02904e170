#!/usr/bin/env node
/**
 * The `mcpq` command. `mcpq <command> --help` explains each command; exit
 * codes are in cli/exit-codes.ts and docs/cli.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, isMcpqError } from '@mcpq/contract';
import { accounts } from './cli/accounts.js';
import { UsageError } from './cli/args.js';
import { dlq, ls, provision, servers } from './cli/admin-commands.js';
import { call, cancel, result, status, watch, type Command } from './cli/commands.js';
import { dev, DEV_ENV_FILE } from './cli/dev.js';
import { gateway } from './cli/gateway.js';
import { ExitCode } from './cli/exit-codes.js';
import { CONNECTION_USAGE, takeConnectionFlags } from './cli/connection.js';
import { ui } from './cli/ui.js';

const commands: Record<string, Command> = {
  call,
  submit: call,
  watch,
  status,
  result,
  cancel,
  ls,
  servers,
  dlq,
  provision,
  accounts,
  dev,
  gateway,
  ui,
};

/** The version of the installed @mcpq/client (its package.json sits next to dist/). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function help(): string {
  const lines = Object.entries(commands)
    .filter(([name]) => name !== 'submit')
    .map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return `mcpq: durable, non-blocking MCP tool calls over NATS JetStream

usage: mcpq <command> [options]     (mcpq <command> --help for its options; mcpq --version)

${lines.join('\n')}

${CONNECTION_USAGE}

Environment: MCPQ_PREFIX (default mcpq), MCPQ_CONFIG (config file: NATS credentials, TLS).
In a directory where 'mcpq dev' runs, its NATS is used when neither NATS_URL nor MCPQ_CONFIG is set.
Output: text on a terminal; JSON lines with --json, and whenever stdout is not a terminal.
`;
}

async function main(args: string[]): Promise<number> {
  let argv: string[];
  try {
    argv = takeConnectionFlags(args);
  } catch (err) {
    process.stderr.write(`mcpq: ${describeError(err)}\n`);
    return ExitCode.error;
  }
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${packageVersion()}\n`);
    return ExitCode.ok;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name ? ExitCode.ok : ExitCode.error;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`unknown command "${name}"\n\n${help()}`);
    return ExitCode.error;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.summary}\n\nusage: ${command.usage}\n\n${CONNECTION_USAGE}\n`);
    return ExitCode.ok;
  }
  const devEnv = join(process.env.MCPQ_DEV_DIR || '.mcpq', DEV_ENV_FILE);
  if (name !== 'dev' && !process.env.NATS_URL && !process.env.MCPQ_CONFIG && existsSync(devEnv)) {
    process.env.NATS_URL = (JSON.parse(readFileSync(devEnv, 'utf8')) as { NATS_URL: string }).NATS_URL;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError || (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`mcpq ${name}: ${err.message}\n\nusage: ${command.usage}\n`);
      return ExitCode.error;
    }
    process.stderr.write(`mcpq ${name}: ${isMcpqError(err) ? `[${err.code}] ${err.message}` : describeError(err)}\n`);
    return ExitCode.error;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`mcpq: ${describeError(err)}\n`);
    process.exit(ExitCode.error);
  },
);

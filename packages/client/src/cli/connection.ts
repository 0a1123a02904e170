/**
 * The NATS connection flags every `mcpq` command takes, named like the `nats`
 * command's: `--server`/`-s URL`, `--creds FILE`, `--user NAME`,
 * `--password SECRET`. Each sets the variable of the same meaning (NATS_URL,
 * NATS_CREDS, NATS_USER, NATS_PASSWORD), which the config loader reads, so a
 * flag, the environment and MCPQ_CONFIG share one path; a flag wins.
 */
import { UsageError } from './args.js';

const FLAGS: Record<string, string> = {
  '--server': 'NATS_URL',
  '-s': 'NATS_URL',
  '--creds': 'NATS_CREDS',
  '--user': 'NATS_USER',
  '--password': 'NATS_PASSWORD',
};

export const CONNECTION_USAGE = `Connection (like the nats command; flags win over the environment):
  -s, --server URL     NATS server URL(s), comma-separated    (NATS_URL, default nats://127.0.0.1:4222)
      --creds FILE     NATS credentials file                  (NATS_CREDS)
      --user NAME      NATS user                              (NATS_USER)
      --password PASS  NATS password                          (NATS_PASSWORD)`;

/** Removes the connection flags from argv and applies them to `env`; returns the other arguments. */
export function takeConnectionFlags(argv: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const variable = FLAGS[flag];
    if (!variable) {
      rest.push(arg);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') throw new UsageError(`${flag} needs a value`);
    env[variable] = value;
  }
  return rest;
}

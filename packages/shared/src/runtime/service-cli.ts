/**
 * The command line of a service: it takes no arguments (configuration comes
 * from MCPQ_CONFIG and the environment), but answers `--help` and `--version`
 * instead of starting, and refuses anything else rather than ignore it.
 */
import { readFileSync } from 'node:fs';

export interface ServiceCliOptions {
  /** `submitter`, `joiner`, ... */
  name: string;
  /** One line: what the service does. */
  summary: string;
  /** The service's package.json (its version is printed). */
  packageJson: URL;
  argv?: string[];
  /** For tests; default: process.stdout / process.stderr and process.exit. */
  out?: (text: string) => void;
  err?: (text: string) => void;
  exit?: (code: number) => never;
}

const ENVIRONMENT = `Configuration (docs/operations.md):
  MCPQ_CONFIG        path of the JSON config file        MCPQ_CONFIG_JSON  the config inline
  NATS_URL           NATS server URL(s), comma-separated NATS_CREDS        NATS credentials file
  NATS_USER          NATS user                           NATS_PASSWORD     NATS password
  MCPQ_PREFIX        subject prefix (default mcpq)       LOG_LEVEL         pino level (default info)
  MCPQ_HTTP_PORT     port of /healthz, /readyz, /metrics (0 = off)
SIGTERM or SIGINT drains and exits 0; a second signal exits at once.`;

/** Handles the service's arguments; returns only when the service should start. */
export function serviceCli(options: ServiceCliOptions): void {
  const argv = options.argv ?? process.argv.slice(2);
  const out = options.out ?? ((t: string) => process.stdout.write(t));
  const err = options.err ?? ((t: string) => process.stderr.write(t));
  const exit = options.exit ?? ((code: number) => process.exit(code));
  if (argv.length === 0) return;
  const [arg] = argv;
  if (arg === '--version' || arg === '-V') {
    const { version } = JSON.parse(readFileSync(options.packageJson, 'utf8')) as { version: string };
    out(`${version}\n`);
    exit(0);
  }
  const help = `mcpq ${options.name}: ${options.summary}\n\nusage: node services/${options.name}/dist/main.js [--help | --version]\n\n${ENVIRONMENT}\n`;
  if (arg === '--help' || arg === '-h') {
    out(help);
    exit(0);
  }
  err(`mcpq ${options.name}: unknown argument "${arg}" (configuration comes from the environment)\n\n${help}`);
  exit(2);
}

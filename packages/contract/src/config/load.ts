/**
 * Loads the config: the JSON file named by MCPQ_CONFIG (or MCPQ_CONFIG_JSON
 * inline), then the documented environment overrides, then one validation
 * pass. Every problem is reported at start-up with the path of the bad value.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { minRecordTtlMs, RECORD_TTL_MARGIN } from './record-ttl.js';
import { z } from 'zod';
import { ErrorCode, McpqError } from '../errors.js';
import { ConfigSchema, type Config, type Secret, type ServerConfig } from './schema.js';

export interface LoadConfigOptions {
  /** Environment to read (defaults to process.env). */
  env?: NodeJS.ProcessEnv;
  /** Explicit config object; replaces MCPQ_CONFIG / MCPQ_CONFIG_JSON. Env overrides still apply. */
  config?: unknown;
}

/** Environment variables that override config fields, and how. */
const ENV_OVERRIDES: ReadonlyArray<{ name: string; path: string[]; parse: (v: string) => unknown }> = [
  // The `nats` command's variables, so one environment serves both.
  { name: 'NATS_URL', path: ['nats', 'servers'], parse: (v) => v },
  { name: 'NATS_CREDS', path: ['nats', 'credsFile'], parse: (v) => v },
  { name: 'NATS_USER', path: ['nats', 'user'], parse: (v) => v },
  // The password stays a reference to its variable: no secret is copied into the config.
  { name: 'NATS_PASSWORD', path: ['nats', 'password'], parse: () => ({ env: 'NATS_PASSWORD' }) },
  { name: 'MCPQ_PREFIX', path: ['prefix'], parse: (v) => v },
  { name: 'LOG_LEVEL', path: ['log', 'level'], parse: (v) => v },
  { name: 'MCPQ_HTTP_PORT', path: ['httpPort'], parse: portNumber },
  { name: 'MCPQ_GATEWAY_PORT', path: ['gateway', 'port'], parse: portNumber },
  { name: 'MCPQ_UI_PORT', path: ['ui', 'port'], parse: portNumber },
];

function portNumber(v: string): unknown {
  return /^\d+$/.test(v) ? Number(v) : v;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  let raw: unknown;
  let source: string;
  if (options.config !== undefined) {
    raw = structuredClone(options.config);
    source = 'the given config object';
  } else if (env.MCPQ_CONFIG) {
    source = `MCPQ_CONFIG=${env.MCPQ_CONFIG}`;
    raw = readJsonFile(env.MCPQ_CONFIG, source);
  } else if (env.MCPQ_CONFIG_JSON) {
    source = 'MCPQ_CONFIG_JSON';
    raw = parseJson(env.MCPQ_CONFIG_JSON, source);
  } else {
    raw = {};
    source = 'defaults';
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new McpqError(ErrorCode.config_invalid, `config from ${source} must be a JSON object`);
  }
  const merged = raw as Record<string, unknown>;
  const overridden: string[] = [];
  for (const o of ENV_OVERRIDES) {
    const value = env[o.name];
    if (value === undefined || value === '') continue;
    setPath(merged, o.path, o.parse(value));
    overridden.push(o.name);
  }
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    throw new McpqError(ErrorCode.config_invalid, formatIssues(parsed.error, source, overridden), {
      data: parsed.error.issues,
    });
  }
  const config = parsed.data;
  if (config.joiner.heartbeatMs >= config.joiner.ackWaitMs) {
    throw new McpqError(
      ErrorCode.config_invalid,
      `invalid config (${source}): joiner.heartbeatMs (${config.joiner.heartbeatMs}) must be below joiner.ackWaitMs (${config.joiner.ackWaitMs})`,
    );
  }
  if (config.joiner.pollMinMs > config.joiner.pollMaxMs) {
    throw new McpqError(ErrorCode.config_invalid, `invalid config (${source}): joiner.pollMinMs must not exceed joiner.pollMaxMs`);
  }
  const minTtl = minRecordTtlMs(config);
  if (config.streams.callsTtlMs < minTtl) {
    throw new McpqError(
      ErrorCode.config_invalid,
      `invalid config (${source}): streams.callsTtlMs (${config.streams.callsTtlMs}) must be at least ${minTtl}: ${RECORD_TTL_MARGIN} times the longest time a live call may go untouched (the largest of the AckWaits, timeouts, backoff caps, joiner.pollMaxMs, joiner.idleTimeoutMs and limits.maxRetryAfterMs), or records of quiet calls could expire`,
    );
  }
  // Resolve every secret now, so a missing variable is a start-up error, not a failed call.
  // (gateway.tokens are resolved by the processes that check them, the gateway and the console, at their
  // start: a submitter or joiner sharing the config file must not need those variables.)
  for (const [alias, server] of Object.entries(config.servers)) {
    for (const [header, value] of Object.entries(server.headers)) {
      resolveSecret(value, env, `servers.${alias}.headers.${header}`);
    }
    // Likewise a CA file that cannot be read, or holds no certificate, stops the start.
    serverCa(server, alias);
  }
  return config;
}

/**
 * The PEM text of a server's `tls.caFile`, checked to hold certificates Node
 * accepts (an empty or garbled file would otherwise trust nothing, and every
 * request would fail its handshake). Throws config_invalid naming the field.
 */
export function serverCa(server: ServerConfig, alias: string): string | undefined {
  const file = server.tls?.caFile;
  if (file === undefined) return undefined;
  const field = `servers.${alias}.tls.caFile`;
  // On a plain http:// URL it would do nothing: said rather than ignored.
  if (new URL(server.url).protocol !== 'https:') {
    throw new McpqError(ErrorCode.config_invalid, `invalid config: ${field} is for https:// servers, and servers.${alias}.url is not one`);
  }
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new McpqError(
      ErrorCode.config_invalid,
      `invalid config: ${field} reads file ${file}, which cannot be read (${(err as Error).message})`,
    );
  }
  // Node's TLS skips a certificate it cannot parse without a word: each one is parsed here.
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw new McpqError(ErrorCode.config_invalid, `invalid config: ${field} (${file}) holds no PEM certificate`);
  }
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new McpqError(
        ErrorCode.config_invalid,
        `invalid config: ${field} (${file}) is not a usable CA bundle: certificate ${i + 1} cannot be parsed (${(err as Error).message})`,
      );
    }
  }
  return pem;
}

/** Reads a secret from its source. Throws config_invalid naming the field when it cannot. */
export function resolveSecret(secret: Secret, env: NodeJS.ProcessEnv = process.env, field = 'secret'): string {
  if (typeof secret === 'string') return secret;
  if ('env' in secret) {
    const value = env[secret.env];
    if (value === undefined) {
      throw new McpqError(ErrorCode.config_invalid, `invalid config: ${field} reads environment variable ${secret.env}, which is not set`);
    }
    return value;
  }
  try {
    return readFileSync(secret.file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new McpqError(
      ErrorCode.config_invalid,
      `invalid config: ${field} reads file ${secret.file}, which cannot be read (${(err as Error).message})`,
    );
  }
}

/** The headers of a server with every secret resolved. Never log the result. */
export function resolveHeaders(server: ServerConfig, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(server.headers)) out[name] = resolveSecret(value, env, `header ${name}`);
  return out;
}

function readJsonFile(path: string, source: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new McpqError(ErrorCode.config_invalid, `cannot read config file (${source}): ${(err as Error).message}`);
  }
  return parseJson(text, source);
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new McpqError(ErrorCode.config_invalid, `config from ${source} is not valid JSON: ${(err as Error).message}`);
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = target;
  for (const key of path.slice(0, -1)) {
    const next = cur[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

function formatIssues(error: z.ZodError, source: string, overridden: string[]): string {
  const lines = error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    return `  - ${path}: ${issue.message}`;
  });
  const env = overridden.length > 0 ? ` with environment overrides ${overridden.join(', ')}` : '';
  return `invalid config (${source}${env}):\n${lines.join('\n')}`;
}

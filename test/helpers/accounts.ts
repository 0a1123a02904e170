/**
 * mcpq under the nats-server accounts of `natsAccountsConfig` (the layout of
 * docs/nats-permissions.conf): a services account where an admin provisions
 * and the submitter and joiner run under their own users, and one account per
 * tenant whose callers reach mcpq only through imports.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { McpqClient } from '@mcpq/client';
import { tenantApiPrefix } from '@mcpq/shared';
import { ENTRY, startNatsServer } from '@mcpq/testkit';
import { createHarness, type Harness, type HarnessOptions } from './harness.js';

const SERVICE_PASSWORDS = {
  MCPQ_ADMIN_PASSWORD: 'admin-pw-1',
  MCPQ_SUBMITTER_PASSWORD: 'submitter-pw-2',
  MCPQ_JOINER_PASSWORD: 'joiner-pw-3',
  MCPQ_CONSOLE_PASSWORD: 'console-pw-5',
  MCPQ_GATEWAY_PASSWORD: 'gateway-pw-6',
};

/** The password of a tenant's caller user, `<prefix>-caller` (the config reads `$<PREFIX>_CALLER_PASSWORD`). */
function callerPasswordVar(prefix: string): string {
  return `${prefix.toUpperCase().replace(/-/g, '_')}_CALLER_PASSWORD`;
}

export interface Caller {
  nc: NatsConnection;
  client: McpqClient;
}

export class AccountsRun {
  private readonly callers: Caller[] = [];

  constructor(
    /** The harness: its own client and connection are the services account's admin, with the first prefix. */
    readonly h: Harness,
    private readonly passwords: Record<string, string>,
  ) {}

  /** The password of a user of the services account (`mcpq-admin`, `mcpq-console`, ...). */
  password(user: `mcpq-${string}`): string {
    return this.passwords[`MCPQ_${user.slice('mcpq-'.length).toUpperCase()}_PASSWORD`]!;
  }

  /** A service's environment: the test's config with the prefix and the role's NATS user. */
  serviceEnv(prefix: string, user: 'mcpq-admin' | 'mcpq-submitter' | 'mcpq-joiner' | 'mcpq-gateway'): NodeJS.ProcessEnv {
    const passwordVar = `MCPQ_${user.slice('mcpq-'.length).toUpperCase()}_PASSWORD`;
    const config = { ...this.h.config, prefix, nats: { servers: this.h.nats.url, user, password: { env: passwordVar } } };
    return { MCPQ_CONFIG: '', MCPQ_CONFIG_JSON: JSON.stringify(config), ...this.passwords };
  }

  /** `mcpq provision --prefix ...` as the admin; returns its exit status and stderr (empty when all went well). */
  provision(prefixes: string[]): { status: number | null; stderr: string } {
    const run = spawnSync(process.execPath, [ENTRY.cli, 'provision', '--json', ...prefixes.flatMap((p) => ['--prefix', p])], {
      env: { ...process.env, ...this.serviceEnv(prefixes[0]!, 'mcpq-admin') },
      encoding: 'utf8',
    });
    return { status: run.status, stderr: run.stderr };
  }

  /** A submitter and a joiner for one prefix, each under its own user. */
  async startServices(prefix: string): Promise<void> {
    await this.h.start('submitter', this.serviceEnv(prefix, 'mcpq-submitter'));
    await this.h.start('joiner', this.serviceEnv(prefix, 'mcpq-joiner'));
  }

  /** A caller of the tenant served by `prefix` (user `<prefix>-caller` in the tenant's account). */
  async caller(prefix: string): Promise<Caller> {
    const nc = await connect({ servers: this.h.nats.url, user: `${prefix}-caller`, pass: this.passwords[callerPasswordVar(prefix)]! });
    const caller = { nc, client: new McpqClient(nc, { prefix, jsApiPrefix: tenantApiPrefix(prefix) }) };
    this.callers.push(caller);
    return caller;
  }

  async close(): Promise<void> {
    await Promise.all(this.callers.map((c) => c.nc.close().catch(() => undefined)));
    await this.h.close();
  }
}

/**
 * Starts a nats-server with `conf` (accounts and users), a harness whose own
 * client is the admin with the first of `prefixes`, and provisions every
 * prefix as the admin. Services are started by the test.
 */
export async function startAccountsRun(conf: string, prefixes: string[], options: HarnessOptions = {}): Promise<AccountsRun> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpq-accounts-'));
  writeFileSync(join(dir, 'nats-permissions.conf'), conf);
  writeFileSync(join(dir, 'server.conf'), 'include ./nats-permissions.conf\n');
  const passwords: Record<string, string> = { ...SERVICE_PASSWORDS };
  for (const p of prefixes) passwords[callerPasswordVar(p)] = `${p}-caller-pw`;
  Object.assign(process.env, passwords); // nats-server reads the passwords from its environment
  const nats = await startNatsServer({ args: ['-c', join(dir, 'server.conf')] });
  const h = await createHarness({
    ...options,
    nats,
    clientNatsOptions: { user: 'mcpq-admin', pass: SERVICE_PASSWORDS.MCPQ_ADMIN_PASSWORD },
    prefix: prefixes[0]!,
  });
  const run = new AccountsRun(h, passwords);
  const prov = run.provision(prefixes);
  if (prov.status !== 0 || prov.stderr !== '') {
    await h.close();
    throw new Error(`mcpq provision failed (exit ${prov.status}): ${prov.stderr}`);
  }
  return run;
}

/**
 * `mcpq accounts`: prints the nats-server accounts and users that keep
 * callers apart from mcpq and from each other (docs/security.md). Pure text
 * from the prefix(es) given; it connects to nothing.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '@mcpq/contract';
import type { TenantAccount } from '@mcpq/shared';
import { UsageError } from './args.js';
import type { Command } from './commands.js';
import { ExitCode } from './exit-codes.js';
import { loadServices } from './services.js';

export const accounts: Command = {
  summary: 'print nats-server accounts and users for least privilege, one account per tenant',
  usage: `mcpq accounts [--tenant ACCOUNT=PREFIX ...] [--services-account NAME]

  Prints a nats-server config (include it next to jetstream { ... }): the services account
  (JetStream; users mcpq-admin, mcpq-submitter, mcpq-joiner) and one account per tenant
  whose user <prefix>-caller reaches only its own prefix's calls, through imports. Each tenant
  needs its own prefix: provision it (mcpq provision --prefix PREFIX) and run a submitter and
  a joiner with it. Callers of a tenant set nats.jsApiPrefix to $JS.<prefix>.API.
  Without --tenant: one account MCPQ_CALLERS for the configured prefix, as in
  docs/nats-permissions.conf.

  --tenant ACCOUNT=PREFIX   a tenant's account name and mcpq prefix (repeatable)
  --services-account NAME   the services' account (default MCPQ)`,
  async run(argv) {
    const { DEFAULT_ACCOUNTS, natsAccountsConfig } = await loadServices('accounts');
    const { values } = parseArgs({
      args: argv,
      options: {
        tenant: { type: 'string', multiple: true },
        'services-account': { type: 'string', default: 'MCPQ' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    const tenants: TenantAccount[] = (values.tenant ?? []).map((t) => {
      const [account, prefix, ...rest] = t.split('=');
      if (!account || !prefix || rest.length > 0) throw new UsageError(`--tenant ${t}: use ACCOUNT=PREFIX`);
      return { account, prefix };
    });
    if (tenants.length === 0) tenants.push({ ...DEFAULT_ACCOUNTS.tenants[0]!, prefix: loadConfig().prefix });
    try {
      process.stdout.write(natsAccountsConfig({ servicesAccount: values['services-account'], tenants }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    return ExitCode.ok;
  },
};

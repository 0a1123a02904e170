/**
 * The nats-server accounts that keep callers apart from mcpq and from each
 * other, written as nats-server configuration (what `mcpq accounts` prints
 * and docs/nats-permissions.conf holds).
 *
 * Why accounts and not only user permissions: NATS permissions restrict the
 * subject a client publishes to, never the reply subject it names. Every
 * answer mcpq or JetStream sends (a submission's PubAck, a JetStream API
 * reply, a cancel reply) goes to that reply subject, so within one account a
 * caller could aim it at `$KV.<prefix>_calls.<id>` or `<prefix>.ctl.>` and
 * write where only mcpq may. A service import across an account boundary
 * rewrites the reply subject into a `_R_.` inbox of the exporting account, so
 * an answer to a caller can only ever travel back to that caller.
 *
 * Layout: one services account (JetStream, the admin, submitter and joiner
 * users) and one account per tenant, each with its own prefix. A tenant's
 * account has no JetStream of its own: it imports exactly its prefix's
 * subjects and the JetStream API requests its callers need on its prefix's
 * streams, nothing else, so tenant B cannot name, read or touch tenant A's
 * calls, records, events or ids.
 */
import { names } from '@mcpq/contract';

export interface TenantAccount {
  /** nats-server account name of the tenant's callers (e.g. `TENANT_A`). */
  account: string;
  /** The mcpq prefix serving this tenant (its own streams, bucket and subjects). */
  prefix: string;
}

export interface AccountsOptions {
  /** The account the services, JetStream and the admin live in (default `MCPQ`). */
  servicesAccount?: string;
  /** One entry per tenant; the single-tenant layout is `[{ account: 'MCPQ_CALLERS', prefix: 'mcpq' }]`. */
  tenants: TenantAccount[];
}

/** The single-tenant layout of docs/nats-permissions.conf. */
export const DEFAULT_ACCOUNTS: AccountsOptions = { servicesAccount: 'MCPQ', tenants: [{ account: 'MCPQ_CALLERS', prefix: 'mcpq' }] };

const ACCOUNT_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** A permission entry with the reason it exists (rendered as a comment). */
type Grant = [subject: string, why: string];

/** What a service reads at start-up: that provisioning made its streams and consumers. */
const STARTUP_CHECKS: Grant[] = [
  ['$JS.API.INFO', 'start-up checks of what provisioning made'],
  ['$JS.API.STREAM.INFO.*', ''],
  ['$JS.API.CONSUMER.INFO.*.*', ''],
];

/** Subjects of one prefix, as the services' users need them. */
function serviceGrants(prefix: string) {
  const n = names(prefix);
  const { submit, join, advisories } = n.streams;
  const kv = `KV_${n.bucket}`;
  const readRecords: Grant[] = [
    [`$JS.API.DIRECT.GET.${kv}`, 'read call records'],
    [`$JS.API.DIRECT.GET.${kv}.>`, ''],
    [`$JS.API.STREAM.MSG.GET.${kv}`, ''],
  ];
  const submitter: Grant[] = [
    [`${prefix}.join.>`, 'hand-off to joiners'],
    [`${prefix}.call.>`, 'status events and results'],
    [`${prefix}.dlq.>`, 'dead letters'],
    [`$KV.${n.bucket}.>`, 'call records (compare-and-set writes)'],
    [`$JS.API.CONSUMER.MSG.NEXT.${submit}.submitter`, 'pull submissions'],
    [`$JS.API.CONSUMER.MSG.NEXT.${advisories}.advisories`, 'pull the advisories of submissions JetStream gave up on'],
    [`$JS.ACK.${submit}.submitter.>`, 'acknowledge them'],
    [`$JS.ACK.${advisories}.advisories.>`, ''],
    ...readRecords,
    [`$JS.API.STREAM.MSG.GET.${submit}`, 'a submission JetStream gave up on: read it, dead-letter it,'],
    [`$JS.API.STREAM.MSG.DELETE.${submit}`, 'then remove it'],
  ];
  const joiner: Grant[] = [
    [`${prefix}.call.>`, 'progress, status events and results'],
    [`${prefix}.dlq.>`, 'dead letters'],
    [`${prefix}.ctl.cancel.*`, 'hint to the joiner following a call that it was cancelled'],
    [`${prefix}.ctl.taskstatus.*`, "task statuses the joiner holding a session's stream passes on"],
    [`$KV.${n.bucket}.>`, 'call records (compare-and-set writes)'],
    [`$JS.API.CONSUMER.MSG.NEXT.${join}.joiner`, 'pull joins'],
    [`$JS.ACK.${join}.joiner.>`, 'acknowledge, park (nak with delay) and keep them (working)'],
    ...readRecords,
  ];
  const joinerSubscribe: Grant[] = [
    [`${prefix}.cancel.*`, 'cancel requests (queue group)'],
    [`${prefix}.ctl.cancel.*`, 'cancel hints'],
    [`${prefix}.ctl.joiners`, 'the console asks what each joiner holds'],
    [`${prefix}.ctl.taskstatus.*`, 'task statuses passed on by the joiner holding a session stream'],
  ];
  const ev = n.streams.events;
  const dlq = n.streams.dlq;
  const servers = `KV_${n.serversBucket}`;
  const console: Grant[] = [
    [`${prefix}.cancel.*`, 'Cancel'],
    [`${prefix}.ctl.joiners`, 'ask every joiner what it holds (many replies)'],
    [`${prefix}.submit.>`, 'Replay: a dead letter goes back to its submit subject'],
    [`$JS.API.CONSUMER.CREATE.${ev}`, "a call's timeline (watch)"],
    [`$JS.API.CONSUMER.CREATE.${ev}.>`, ''],
    [`$JS.API.CONSUMER.CREATE.${dlq}`, 'listing dead letters'],
    [`$JS.API.CONSUMER.CREATE.${dlq}.>`, ''],
    [`$JS.API.CONSUMER.CREATE.${kv}`, 'the calls list (bounded pulls, a KV watch of new writes)'],
    [`$JS.API.CONSUMER.CREATE.${kv}.>`, ''],
    [`$JS.API.CONSUMER.CREATE.${servers}`, "the server catalog's keys"],
    [`$JS.API.CONSUMER.CREATE.${servers}.>`, ''],
    [`$JS.API.DIRECT.GET.${ev}`, 'the last progress of calls already running'],
    [`$JS.API.DIRECT.GET.${ev}.>`, ''],
    [`$JS.API.DIRECT.GET.${kv}`, "a call's record"],
    [`$JS.API.DIRECT.GET.${kv}.>`, ''],
    [`$JS.API.DIRECT.GET.${servers}`, ''],
    [`$JS.API.DIRECT.GET.${servers}.>`, ''],
    [`$JS.API.STREAM.MSG.GET.${kv}`, ''],
    [`$JS.API.STREAM.MSG.GET.${servers}`, ''],
    [`$JS.API.STREAM.MSG.GET.${submit}`, 'arguments of queued calls'],
    [`$JS.API.STREAM.MSG.GET.${join}`, 'arguments of hold-mode and idempotent calls'],
    [`$JS.API.STREAM.MSG.GET.${dlq}`, 'Replay reads the dead letter,'],
    [`$JS.API.STREAM.MSG.DELETE.${dlq}`, 'then deletes it'],
  ];
  const consoleSubscribe: Grant[] = [[`${prefix}.call.>`, 'live progress of every call']];
  const gateway: Grant[] = [
    [`${prefix}.submit.>`, "queue the hosts' tools/call as mcpq calls"],
    [`${prefix}.call.*.status`, 'the acceptance marker (a `queued` status event) written before each submission'],
    [`${prefix}.cancel.*`, 'tasks/cancel and cancelOnDisconnect (request/reply)'],
    [`$KV.${n.serversBucket}.>`, 'write the server catalog after fetching a tools/list'],
    [`$JS.API.CONSUMER.CREATE.${ev}`, 'ordered consumers to follow one call (synchronous tools/call)'],
    [`$JS.API.CONSUMER.CREATE.${ev}.>`, ''],
    [`$JS.API.CONSUMER.INFO.${ev}.>`, ''],
    [`$JS.API.CONSUMER.MSG.NEXT.${ev}.>`, ''],
    [`$JS.API.CONSUMER.DELETE.${ev}.>`, ''],
    [`$JS.API.DIRECT.GET.${ev}`, 'stored results (tasks/result) and acceptance markers (tasks/get)'],
    [`$JS.API.DIRECT.GET.${ev}.>`, ''],
    [`$JS.API.STREAM.MSG.GET.${ev}`, "a marker a replica did not have, asked of the stream's leader"],
    [`$JS.API.DIRECT.GET.${kv}`, 'call records (tasks/get)'],
    [`$JS.API.DIRECT.GET.${kv}.>`, ''],
    [`$JS.API.STREAM.MSG.GET.${kv}`, ''],
    [`$JS.API.CONSUMER.CREATE.${kv}`, 'tasks/list: one bounded pull of records a request'],
    [`$JS.API.CONSUMER.CREATE.${kv}.>`, ''],
    [`$JS.API.CONSUMER.MSG.NEXT.${kv}.>`, ''],
    [`$JS.API.CONSUMER.DELETE.${kv}.>`, ''],
    [`$JS.API.DIRECT.GET.${servers}`, 'read the server catalog (tools/list)'],
    [`$JS.API.DIRECT.GET.${servers}.>`, ''],
    [`$JS.API.STREAM.MSG.GET.${servers}`, ''],
    [`$JS.API.CONSUMER.CREATE.${servers}`, "list the catalog's keys"],
    [`$JS.API.CONSUMER.CREATE.${servers}.>`, ''],
    [`$JS.API.CONSUMER.DELETE.${servers}.>`, ''],
    [`$JS.FC.${servers}.>`, ''],
  ];
  const gatewaySubscribe: Grant[] = [[`${prefix}.call.*.result`, "a call's result as it is published (tasks/result)"]];
  const admin: Grant[] = [[`$KV.${n.bucket}.>`, 'repair a call record by hand']];
  return { submitter, joiner, joinerSubscribe, console, consoleSubscribe, gateway, gatewaySubscribe, admin };
}

/**
 * What a tenant's callers may ask of the services account: their prefix's
 * submissions and cancels, and the JetStream API requests the client makes to
 * replay events, read a stored result and read call records. Nothing that
 * lists or writes records, and no JetStream API of any other prefix.
 */
export function tenantServiceImports(prefix: string): Array<Grant & { stream?: boolean }> {
  const n = names(prefix);
  const events = n.streams.events;
  const kv = `KV_${n.bucket}`;
  return [
    [`${prefix}.submit.>`, 'queue calls (JetStream answers with a PubAck through the import)'],
    [`${prefix}.cancel.*`, 'cancel requests (request/reply)'],
    [`$JS.API.STREAM.INFO.${events}`, 'watch: replay one call with an ordered consumer'],
    [`$JS.API.CONSUMER.CREATE.${events}`, ''],
    [`$JS.API.CONSUMER.CREATE.${events}.>`, ''],
    [`$JS.API.CONSUMER.INFO.${events}.>`, ''],
    [`$JS.API.CONSUMER.DELETE.${events}.>`, ''],
    Object.assign([`$JS.API.CONSUMER.MSG.NEXT.${events}.>`, 'many messages answer one pull'] as Grant, { stream: true }),
    [`$JS.API.DIRECT.GET.${events}`, 'result: the stored result'],
    [`$JS.API.DIRECT.GET.${events}.>`, ''],
    [`$JS.API.STREAM.INFO.${kv}`, 'status and result: read call records'],
    [`$JS.API.DIRECT.GET.${kv}`, ''],
    [`$JS.API.DIRECT.GET.${kv}.>`, ''],
    [`$JS.API.STREAM.MSG.GET.${kv}`, ''],
  ];
}

/**
 * The JetStream API prefix a tenant's callers use (`nats.jsApiPrefix`):
 * `$JS.<prefix>.API`. A tenant's account has no JetStream, so it cannot
 * import `$JS.API.*` under its own name (the server answers those itself
 * with "JetStream not enabled for account"); each import is mapped to this
 * prefix instead.
 */
export function tenantApiPrefix(prefix: string): string {
  names(prefix);
  return `$JS.${prefix}.API`;
}

/** A subject as the tenant's account sees it: JetStream API requests under the tenant's API prefix. */
function localSubject(prefix: string, subject: string): string {
  return subject.startsWith('$JS.API.') ? `${tenantApiPrefix(prefix)}.${subject.slice('$JS.API.'.length)}` : subject;
}

/** nats-server configuration for the services account and one account per tenant. */
export function natsAccountsConfig(options: AccountsOptions): string {
  const services = options.servicesAccount ?? 'MCPQ';
  checkLayout(services, options.tenants);
  const grants = options.tenants.map((t) => serviceGrants(t.prefix));
  const all = (pick: (g: ReturnType<typeof serviceGrants>) => Grant[]) => grants.flatMap(pick);
  const out: string[] = [HEADER];

  out.push(block('MCPQ_SUBMITTER', [...all((g) => g.submitter), ...STARTUP_CHECKS], [['_INBOX.>', 'its own replies']]));
  out.push(
    block(
      'MCPQ_JOINER',
      [
        ...all((g) => g.joiner),
        ...STARTUP_CHECKS,
        ['_R_.>', "answers to cancel requests: callers' inboxes as the import rewrote them"],
        ['_INBOX.>', 'answers to requests made inside this account (the console: cancels, ctl.joiners)'],
      ],
      [['_INBOX.>', 'its own replies'], ...all((g) => g.joinerSubscribe)],
      '# no allow_responses: a reply goes only to an inbox, never to a subject a requester names',
    ),
  );
  out.push(
    block(
      'MCPQ_CONSOLE',
      [
        ...all((g) => g.console),
        ['$JS.API.INFO', ''],
        ['$JS.API.STREAM.INFO.*', 'depth and oldest message of every stream'],
        ['$JS.API.CONSUMER.LIST.*', 'pending and redeliveries of every consumer'],
        ['$JS.API.CONSUMER.INFO.*.>', ''],
        ['$JS.API.CONSUMER.MSG.NEXT.*.>', ''],
        ['$JS.API.CONSUMER.DELETE.*.>', ''],
        ['$JS.FC.>', ''],
      ],
      [['_INBOX.>', ''], ...all((g) => g.consoleSubscribe)],
    ),
  );
  out.push(
    block(
      'MCPQ_GATEWAY',
      [...all((g) => g.gateway), ['$JS.API.INFO', ''], ['$JS.API.STREAM.INFO.*', 'start-up check of the streams and buckets, and /readyz']],
      [['_INBOX.>', ''], ...all((g) => g.gatewaySubscribe)],
    ),
  );
  out.push(
    block('MCPQ_ADMIN', [['$JS.API.>', 'create and update streams, buckets and consumers'], ...all((g) => g.admin)], [['_INBOX.>', '']]),
  );
  for (const t of options.tenants) {
    const imports = tenantServiceImports(t.prefix);
    out.push(
      block(
        callerVar(t.prefix),
        imports.map(([s, why]) => [localSubject(t.prefix, s), why]),
        [
          ['_INBOX.>', 'replies, PubAcks, pulled events'],
          [`${t.prefix}.call.>`, 'live events of calls (imported stream)'],
        ],
      ),
    );
  }

  const exports: string[] = [];
  for (const t of options.tenants) {
    exports.push(`      # tenant ${t.account}, prefix ${t.prefix}`);
    for (const grant of tenantServiceImports(t.prefix)) {
      exports.push(`      { service: "${grant[0]}", accounts: [${t.account}]${grant.stream ? ', response_type: stream' : ''} }`);
    }
    exports.push(`      { stream: "${t.prefix}.call.>", accounts: [${t.account}] }`);
  }
  const accounts: string[] = [
    `  ${services}: {`,
    '    jetstream: enabled',
    '    users: [',
    `      { user: mcpq-admin, password: $MCPQ_ADMIN_PASSWORD, permissions: $MCPQ_ADMIN }`,
    `      { user: mcpq-submitter, password: $MCPQ_SUBMITTER_PASSWORD, permissions: $MCPQ_SUBMITTER }`,
    `      { user: mcpq-joiner, password: $MCPQ_JOINER_PASSWORD, permissions: $MCPQ_JOINER }`,
    `      { user: mcpq-console, password: $MCPQ_CONSOLE_PASSWORD, permissions: $MCPQ_CONSOLE }`,
    `      { user: mcpq-gateway, password: $MCPQ_GATEWAY_PASSWORD, permissions: $MCPQ_GATEWAY }`,
    '    ]',
    '    exports: [',
    ...exports,
    '    ]',
    '  }',
  ];
  for (const t of options.tenants) {
    accounts.push(
      `  ${t.account}: {`,
      '    users: [',
      `      { user: ${t.prefix}-caller, password: $${envName(t.prefix)}_CALLER_PASSWORD, permissions: $${callerVar(t.prefix)} }`,
      '    ]',
      '    imports: [',
      ...tenantServiceImports(t.prefix).map(([s]) => {
        const local = localSubject(t.prefix, s);
        return `      { service: { account: ${services}, subject: "${s}" }${local !== s ? `, to: "${local}"` : ''} }`;
      }),
      `      { stream: { account: ${services}, subject: "${t.prefix}.call.>" } }`,
      '    ]',
      '  }',
    );
  }
  out.push(`accounts {\n${accounts.join('\n')}\n}\n`);
  return out.join('\n');
}

const HEADER = `# mcpq: least-privilege NATS accounts and users, ready to include in a nats-server config.
#
#   include ./nats-permissions.conf      (next to jetstream { ... } in your server config)
#
# Generated by \`mcpq accounts\` (docs/security.md explains every choice). Passwords are read
# from nats-server's environment; use nkeys or JWTs the same way.
#
# Why callers live in their own account: permissions cannot restrict the reply subject a
# client names, and every answer (a PubAck, a JetStream API reply, a cancel reply) goes there.
# Across an account boundary the import rewrites it to a _R_. inbox of the services account,
# so an answer can only travel back to the caller who asked.
#
# Roles:
#   mcpq-admin        (services account) creates and updates streams, buckets, consumers (\`mcpq provision\`)
#   mcpq-submitter    (services account) the submitter service
#   mcpq-joiner       (services account) the joiner service
#   mcpq-console      (services account) the web console (mcpq ui): reads records, events, queues and
#                     dead letters; cancels calls, replays dead letters, asks joiners what they hold
#   mcpq-gateway      (services account) the MCP gateway: a caller for MCP hosts, plus the server catalog
#   <prefix>-caller   (a tenant's account) an application: submit, watch, wait for results, read status, cancel
`;

function block(name: string, publish: Grant[], subscribe: Grant[], trailer?: string): string {
  const list = (grants: Grant[]) => {
    const width = Math.max(...grants.map(([s]) => s.length)) + 4;
    return grants.map(([s, why]) => `      ${`"${s}",`.padEnd(width)}${why ? `# ${why}` : ''}`.trimEnd()).join('\n');
  };
  return [
    `${name} = {`,
    '  publish: {',
    '    allow: [',
    list(publish),
    '    ]',
    '  }',
    '  subscribe: {',
    '    allow: [',
    list(subscribe),
    '    ]',
    '  }',
    ...(trailer ? [`  ${trailer}`] : []),
    '}',
    '',
  ].join('\n');
}

function callerVar(prefix: string): string {
  return `${envName(prefix)}_CALLER`;
}

function envName(prefix: string): string {
  return prefix.toUpperCase().replace(/-/g, '_');
}

function checkLayout(services: string, tenants: TenantAccount[]): void {
  if (tenants.length === 0) throw new Error('at least one tenant account is needed');
  const seen = new Set<string>([services]);
  const prefixes = new Set<string>();
  for (const t of [{ account: services, prefix: 'mcpq' }, ...tenants]) {
    if (!ACCOUNT_PATTERN.test(t.account)) throw new Error(`invalid account name "${t.account}": use a letter, then [A-Za-z0-9_-]`);
  }
  for (const t of tenants) {
    names(t.prefix); // validates the prefix
    if (seen.has(t.account)) throw new Error(`account "${t.account}" is named twice (or is the services account)`);
    if (prefixes.has(t.prefix)) throw new Error(`prefix "${t.prefix}" is given to two tenants: each tenant needs its own`);
    seen.add(t.account);
    prefixes.add(t.prefix);
  }
}

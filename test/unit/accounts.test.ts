/**
 * The nats-server accounts of `natsAccountsConfig`: what a tenant's callers
 * may publish and import, checked as text, so a change that widens them is
 * seen here (the security tests run mcpq under them end to end).
 */
import { describe, expect, it } from 'vitest';
import { natsAccountsConfig, tenantApiPrefix, tenantServiceImports } from '@mcpq/shared';

const twoTenants = natsAccountsConfig({
  tenants: [
    { account: 'TENANT_A', prefix: 'ta' },
    { account: 'TENANT_B', prefix: 'tb' },
  ],
});

/** The text of one `NAME: { ... }` or `NAME = { ... }` block, up to its closing brace at the same indentation. */
function blockOf(conf: string, head: string): string {
  const start = conf.indexOf(head);
  expect(start, `${head} in the config`).toBeGreaterThanOrEqual(0);
  const indent = head.match(/^\s*/)![0];
  const end = conf.indexOf(`\n${indent}}`, start);
  return conf.slice(start, end);
}

describe('tenant accounts config', () => {
  it("a tenant's account imports only its own prefix's subjects and streams", () => {
    const a = blockOf(twoTenants, '  TENANT_A: {');
    expect(a).toContain('"ta.submit.>"');
    expect(a).not.toMatch(/\btb[._]|TB_/);
    expect(a).not.toContain('jetstream');
    const b = blockOf(twoTenants, '  TENANT_B: {');
    expect(b).not.toMatch(/\bta[._]|TA_/);
  });

  it("a tenant's callers may publish only submissions, cancels and read-only JetStream requests on their own streams", () => {
    const caller = blockOf(twoTenants, 'TA_CALLER = {');
    const publish = [...blockOf(caller, '  publish: {').matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
    for (const subject of publish) {
      expect(subject).toMatch(
        /^(ta\.submit\.>|ta\.cancel\.\*|\$JS\.ta\.API\.(STREAM\.INFO|CONSUMER\.(CREATE|INFO|DELETE|MSG\.NEXT)|DIRECT\.GET|STREAM\.MSG\.GET)\.)/,
      );
      expect(subject).not.toMatch(/PURGE|\.DELETE\.(?!TA_EVENTS)|\$KV|ctl|join|\.call\./);
    }
    expect(publish.filter((s) => s.startsWith('$JS.'))).toHaveLength(
      tenantServiceImports('ta').filter(([s]) => s.startsWith('$JS.')).length,
    );
  });

  it('JetStream API imports are mapped under the tenant’s API prefix (an account without JetStream answers $JS.API itself)', () => {
    expect(tenantApiPrefix('ta')).toBe('$JS.ta.API');
    expect(twoTenants).toContain(
      '{ service: { account: MCPQ, subject: "$JS.API.DIRECT.GET.KV_ta_calls.>" }, to: "$JS.ta.API.DIRECT.GET.KV_ta_calls.>" }',
    );
    expect(twoTenants).toContain('{ service: "$JS.API.CONSUMER.MSG.NEXT.TA_EVENTS.>", accounts: [TENANT_A], response_type: stream }');
  });

  it('joiners may publish and subscribe task status cues (ctl.taskstatus); callers, console and gateway may not', () => {
    const subjects = (block: string, kind: 'publish' | 'subscribe') =>
      [...blockOf(block, `  ${kind}: {`).matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
    const joiner = blockOf(twoTenants, 'MCPQ_JOINER = {');
    for (const prefix of ['ta', 'tb']) {
      expect(subjects(joiner, 'publish')).toContain(`${prefix}.ctl.taskstatus.*`);
      expect(subjects(joiner, 'subscribe')).toContain(`${prefix}.ctl.taskstatus.*`);
    }
    for (const role of ['TA_CALLER = {', 'TB_CALLER = {', 'MCPQ_CONSOLE = {', 'MCPQ_GATEWAY = {', 'MCPQ_SUBMITTER = {']) {
      const block = blockOf(twoTenants, role);
      for (const kind of ['publish', 'subscribe'] as const) {
        for (const subject of subjects(block, kind)) expect(subject, `${role} ${kind}`).not.toMatch(/taskstatus|\.ctl\.>|^>$/);
      }
    }
    // Not exported to a tenant's account: a caller cannot even import the subject.
    expect(blockOf(twoTenants, '  TENANT_A: {')).not.toContain('taskstatus');
  });

  it('the joiner answers only to inboxes: no allow_responses', () => {
    const joiner = blockOf(twoTenants, 'MCPQ_JOINER = {');
    expect(joiner.replace(/#.*$/gm, '')).not.toContain('allow_responses');
    expect(joiner).toContain('"_R_.>"');
  });

  it('refuses two tenants on one prefix, a tenant named like the services account, and bad names', () => {
    expect(() =>
      natsAccountsConfig({
        tenants: [
          { account: 'A', prefix: 'p' },
          { account: 'B', prefix: 'p' },
        ],
      }),
    ).toThrow(/prefix "p"/);
    expect(() => natsAccountsConfig({ tenants: [{ account: 'MCPQ', prefix: 'p' }] })).toThrow(/services account/);
    expect(() => natsAccountsConfig({ tenants: [{ account: 'A B', prefix: 'p' }] })).toThrow(/invalid account name/);
    expect(() => natsAccountsConfig({ tenants: [{ account: 'A', prefix: 'p.q' }] })).toThrow(/invalid prefix/);
    expect(() => natsAccountsConfig({ tenants: [] })).toThrow(/at least one/);
  });
});

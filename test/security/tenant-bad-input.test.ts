/**
 * The submission attacks of the bad-input corpus (test/failure/bad-input-cases.ts),
 * published by tenant users under least privilege: two tenants, each a NATS
 * account with its own prefix (`mcpq accounts --tenant ...`), each caller
 * publishing through its own prefix and JetStream API prefix. Every attack
 * gets its specific error or dead letter (in its own tenant's dead letters,
 * none in the other's), and right after it a good call of the same tenant and
 * one of the other tenant complete. Both tenants use the same call ids: each
 * tenant's are its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { names, natsAccountsConfig, tenantApiPrefix } from '@mcpq/shared';
import { startAccountsRun, type AccountsRun, type Caller } from '../helpers/accounts.js';
import { caseNamed, CORPUS_LIMITS, runCase, type CaseTarget } from '../failure/bad-input-cases.js';

/** The corpus cases a tenant's caller runs: nesting, sizes after escaping, meta + arguments, non-JSON, unknown fields. */
const ATTACKS = [
  'arguments nested 65 levels',
  'arguments nested 100,000 levels',
  'arrays nested 100,000 levels in arguments',
  'meta nested 100,000 levels',
  'nesting 100,000 levels without a callId',
  'arguments of 2049 bytes after escaping',
  '400 control characters (400 characters, 2400 bytes escaped)',
  '1100 double quotes (2200 bytes escaped)',
  '520 emoji (2080 bytes of UTF-8)',
  'a submission of 900 KB that is 1.8 MB escaped, without a callId',
  'meta that pushes arguments and meta past the limit',
  'not JSON',
  'binary bytes',
  'trailing text after the JSON',
  'a payload that is only 100,000 open brackets',
  'an unknown field (a typo)',
  'an unknown field nested 100,000 levels',
  // At the limit, for contrast: a tenant's submission of exactly maxArgumentsBytes still runs.
  'arguments of exactly 2048 bytes after escaping',
] as const;
const TENANTS = ['ta', 'tb'] as const;
type Tenant = (typeof TENANTS)[number];

let run: AccountsRun;
const callers = {} as Record<Tenant, Caller>;

beforeAll(async () => {
  const conf = natsAccountsConfig({
    tenants: [
      { account: 'TENANT_A', prefix: 'ta' },
      { account: 'TENANT_B', prefix: 'tb' },
    ],
  });
  run = await startAccountsRun(conf, [...TENANTS], { config: { limits: CORPUS_LIMITS } });
  for (const t of TENANTS) await run.startServices(t);
  for (const t of TENANTS) callers[t] = await run.caller(t);
});
afterAll(async () => {
  await run?.close();
});

const other = (t: Tenant): Tenant => (t === 'ta' ? 'tb' : 'ta');

/** A tenant as the corpus runner sees it: its caller publishes and reads results; dead letters are read as the operator. */
function target(t: Tenant): CaseTarget {
  const caller = callers[t];
  return {
    js: jetstream(caller.nc, { apiPrefix: tenantApiPrefix(t), timeout: 5_000 }),
    submitSubject: (server) => names(t).submit(server),
    result: (callId) => caller.client.result(callId, { timeoutMs: 20_000 }),
    deadLetters: () => run.h.deadLetters(t),
  };
}

async function goodCallCompletes(t: Tenant, text: string): Promise<void> {
  const { callId } = await callers[t].client.submit('demo', 'echo', { text });
  const r = await callers[t].client.result(callId, { timeoutMs: 20_000 });
  expect(r.status, JSON.stringify(r.error)).toBe('completed');
  expect(r.result).toMatchObject({ content: [{ text }] });
}

describe.each(TENANTS)('bad input published by a caller of tenant %s through its own prefix', (t) => {
  it.each(ATTACKS.map((name, i) => ({ name, id: `attack-${i}` })))('$name', async ({ name, id }) => {
    await runCase(target(t), caseNamed(name), id);
    await goodCallCompletes(t, `${t} after ${id}`);
    await goodCallCompletes(other(t), `${other(t)} after ${t}'s ${id}`);
  });
});

describe('after the attacks', () => {
  it("each tenant's dead letters are its own: submitted to its prefix, none in the other tenant's", async () => {
    for (const t of TENANTS) {
      const letters = await run.h.deadLetters(t);
      expect(letters.length).toBeGreaterThanOrEqual(1);
      for (const d of letters) {
        expect(d.subject.startsWith(`${t}.submit.`), d.subject).toBe(true);
        expect(d.stream).toBe(names(t).streams.submit);
      }
    }
  });

  it('the services ran under their own users without a permission error, and logged no error', () => {
    for (const s of run.h.services) {
      expect(s.raw.filter((l) => /Permissions Violation|permission/i.test(l))).toEqual([]);
      expect(s.logs((l) => l.level === 'fatal' || l.level === 'error')).toEqual([]);
      expect(s.running).toBe(true);
    }
  });
});

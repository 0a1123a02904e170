/**
 * The set-up the broken-server suites share: a harness (its servers behind
 * FaultProxy as each suite asks) with a submitter and a joiner, and a
 * credential catcher; the proxies' faults are cleared after each test and
 * everything is closed after the suite.
 */
import type { ServiceProcess } from '@mcpq/testkit';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startCredentialCatcher, type CredentialCatcher } from './credential-catcher.js';
import { createHarness, type Harness, type HarnessOptions } from './harness.js';

export interface BrokenServersSuite {
  h: Harness;
  /** The submitter, then the joiner. */
  services: ServiceProcess[];
  catcher: CredentialCatcher;
}

/** Registers the suite's hooks; the fields are set once its beforeAll has run. */
export function brokenServersSuite(options: HarnessOptions): BrokenServersSuite {
  const suite = {} as BrokenServersSuite;
  beforeAll(async () => {
    suite.catcher = await startCredentialCatcher();
    suite.h = await createHarness(options);
    suite.services = [await suite.h.start('submitter'), await suite.h.start('joiner')];
  });
  afterEach(() => {
    for (const p of Object.values(suite.h.proxies)) p.clear();
  });
  afterAll(async () => {
    await suite.h?.close();
    await suite.catcher?.close();
  });
  return suite;
}

/** The handler failures the services logged: a poison message makes one on every redelivery. */
export function handlerFailuresOf(services: ServiceProcess[]) {
  return services.flatMap((s) => s.logs((l) => l.msg === 'handler failed; message will be retried'));
}

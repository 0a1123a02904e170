/**
 * Provisioning is idempotent, brings existing streams in line where NATS
 * allows, and says clearly where it does not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { loadConfig, provision } from '@mcpq/shared';
import { startNatsServer, type NatsServer } from '@mcpq/testkit';

let nats: NatsServer;
let nc: NatsConnection;
beforeAll(async () => {
  nats = await startNatsServer({ allowExternal: true });
  nc = await connect({ servers: nats.url });
});
afterAll(async () => {
  await nc.close();
  await nats.dispose();
});

const configWith = (prefix: string, eventsMaxAgeMs: number) => loadConfig({ config: { prefix, streams: { eventsMaxAgeMs } }, env: {} });

describe('provisioning', () => {
  it('creates everything once, changes nothing when run again, and updates what may change', async () => {
    const first = await provision(nc, configWith('prov1', 3_600_000), { consumers: ['submitter', 'joiner'] });
    const before = await first.jsm.streams.info('PROV1_EVENTS');
    await provision(nc, configWith('prov1', 3_600_000), { consumers: ['submitter', 'joiner'] });
    const again = await first.jsm.streams.info('PROV1_EVENTS');
    expect(again.created).toEqual(before.created);
    expect(again.config).toEqual(before.config);
    await provision(nc, configWith('prov1', 7_200_000));
    expect((await first.jsm.streams.info('PROV1_EVENTS')).config.max_age).toBe(7_200_000 * 1_000_000);
  });

  it('refuses, naming the field, what NATS cannot change in place', async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: 'PROV2_EVENTS',
      subjects: ['prov2.call.>'],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
    });
    await expect(provision(nc, configWith('prov2', 3_600_000))).rejects.toMatchObject({
      code: 'config_invalid',
      message: expect.stringMatching(
        /PROV2_EVENTS exists with retention=workqueue but mcpq needs retention=limits.*delete the stream or use another prefix/,
      ),
    });
  });
});

/**
 * Idempotent provisioning of mcpq's streams, consumers and KV bucket. Every
 * service calls it at start-up; running it twice, or from many processes at
 * once, changes nothing. An existing stream is updated where NATS allows it
 * (age, duplicate window, replicas) and refused with a clear message where it
 * does not (retention, storage).
 */
import { nanos, type NatsConnection } from '@nats-io/nats-core';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstreamManager,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { type Config, ErrorCode, McpqError, names, type Names } from '@mcpq/contract';
import type { Logger } from '../log.js';

type DesiredStream = Partial<StreamConfig> & { name: string; subjects: string[] };

/** What each of mcpq's streams must look like for a given config. */
export function desiredStreams(config: Config, n: Names = names(config.prefix)): DesiredStream[] {
  const common = {
    storage: StorageType.File,
    num_replicas: config.nats.replicas,
    duplicate_window: nanos(config.streams.duplicateWindowMs),
  };
  return [
    {
      ...common,
      name: n.streams.submit,
      description: 'mcpq: tools/call requests waiting for a submitter',
      subjects: [n.submitWildcard],
      retention: RetentionPolicy.Workqueue,
      discard: DiscardPolicy.Old,
    },
    {
      ...common,
      name: n.streams.join,
      description: 'mcpq: dispatched calls waiting for a joiner',
      subjects: [n.joinWildcard],
      retention: RetentionPolicy.Workqueue,
      discard: DiscardPolicy.Old,
    },
    {
      ...common,
      name: n.streams.events,
      description: 'mcpq: status, progress and result of every call, replayable',
      subjects: n.eventSubjects,
      retention: RetentionPolicy.Limits,
      max_age: nanos(config.streams.eventsMaxAgeMs),
      allow_direct: true,
      discard: DiscardPolicy.Old,
    },
    {
      ...common,
      name: n.streams.advisories,
      description: 'mcpq: JetStream advisories about submit requests delivered too often or terminated',
      subjects: n.advisorySubjects,
      retention: RetentionPolicy.Workqueue,
      max_age: nanos(config.streams.dlqMaxAgeMs),
      discard: DiscardPolicy.Old,
    },
    {
      ...common,
      name: n.streams.dlq,
      description: 'mcpq: dead letters with the reason and the original payload',
      subjects: [n.dlqWildcard],
      retention: RetentionPolicy.Limits,
      max_age: nanos(config.streams.dlqMaxAgeMs),
      discard: DiscardPolicy.Old,
    },
  ];
}

/** Consumer settings of the two durable work-queue consumers. */
export function desiredConsumers(config: Config, n: Names = names(config.prefix)) {
  const submitter: Partial<ConsumerConfig> & { durable_name: string } = {
    durable_name: n.consumers.submitter,
    description: 'mcpq submitters (shared by all submitter processes)',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(config.submitter.ackWaitMs),
    max_deliver: config.submitter.maxDeliver,
    max_ack_pending: 10_000,
    num_replicas: 0,
  };
  const joiner: Partial<ConsumerConfig> & { durable_name: string } = {
    durable_name: n.consumers.joiner,
    description: 'mcpq joiners (shared by all joiner processes)',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(config.joiner.ackWaitMs),
    // Parking a call is a nak with a delay, which counts as a delivery: never give up on a join.
    max_deliver: -1,
    max_ack_pending: 100_000,
    num_replicas: 0,
  };
  const advisories: Partial<ConsumerConfig> & { durable_name: string } = {
    durable_name: n.consumers.advisories,
    description: 'mcpq submitters: dead-letter what the submit consumer gave up on',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(30_000),
    max_deliver: -1,
    num_replicas: 0,
  };
  return { submitter, joiner, advisories };
}

/** Fields compared on an existing stream; NATS can change these in place. */
const UPDATABLE_STREAM_FIELDS = ['subjects', 'max_age', 'duplicate_window', 'num_replicas', 'allow_direct'] as const;
/** Fields NATS cannot change: a difference is a start-up error. */
const FIXED_STREAM_FIELDS = ['retention', 'storage'] as const;

export async function ensureStream(jsm: JetStreamManager, desired: DesiredStream, logger?: Logger): Promise<StreamInfo> {
  let info: StreamInfo;
  try {
    info = await jsm.streams.info(desired.name);
  } catch (err) {
    if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
    try {
      info = await jsm.streams.add(desired);
      logger?.info({ stream: desired.name }, 'created stream');
      return info;
    } catch (addErr) {
      // Another process created it at the same moment: fall through to compare.
      info = await jsm.streams.info(desired.name).catch(() => {
        throw addErr;
      });
    }
  }
  for (const field of FIXED_STREAM_FIELDS) {
    if (desired[field] !== undefined && info.config[field] !== desired[field]) {
      throw new McpqError(
        ErrorCode.config_invalid,
        `stream ${desired.name} exists with ${field}=${String(info.config[field])} but mcpq needs ${field}=${String(desired[field])}; ` +
          `NATS cannot change ${field} in place: delete the stream or use another prefix`,
      );
    }
  }
  const changed = UPDATABLE_STREAM_FIELDS.filter(
    (f) => desired[f] !== undefined && JSON.stringify(info.config[f]) !== JSON.stringify(desired[f]),
  );
  if (changed.length === 0) return info;
  try {
    const updated = await jsm.streams.update(desired.name, { ...info.config, ...pick(desired, changed) });
    logger?.info({ stream: desired.name, changed }, 'updated stream settings');
    return updated;
  } catch (err) {
    throw new McpqError(
      ErrorCode.config_invalid,
      `stream ${desired.name} needs new ${changed.join(', ')} but NATS refused the update: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  desired: Partial<ConsumerConfig> & { durable_name: string },
  logger?: Logger,
): Promise<void> {
  try {
    const info = await jsm.consumers.info(stream, desired.durable_name);
    const drift = (['ack_wait', 'max_deliver', 'max_ack_pending'] as const).filter(
      (f) => desired[f] !== undefined && info.config[f] !== desired[f],
    );
    if (drift.length > 0) {
      await jsm.consumers.update(stream, desired.durable_name, pick(desired, drift));
      logger?.info({ stream, consumer: desired.durable_name, changed: drift }, 'updated consumer settings');
    }
  } catch (err) {
    if (!isApiError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
    await jsm.consumers.add(stream, desired);
    logger?.info({ stream, consumer: desired.durable_name }, 'created consumer');
  }
}

/** Opens (creating when missing) the calls bucket with the configured TTL and replicas. */
export async function ensureCallsBucket(nc: NatsConnection, config: Config, logger?: Logger): Promise<KV> {
  const n = names(config.prefix);
  const kvm = new Kvm(nc);
  const kv = await kvm.create(n.bucket, {
    history: 1,
    ttl: config.streams.callsTtlMs,
    replicas: config.nats.replicas,
    storage: StorageType.File,
    description: 'mcpq call records (key = callId)',
  });
  // create() opens an existing bucket as it is; bring its age and replicas in line.
  const jsm = await jetstreamManager(nc);
  await ensureStream(
    jsm,
    {
      name: `KV_${n.bucket}`,
      subjects: [`$KV.${n.bucket}.>`],
      max_age: nanos(config.streams.callsTtlMs),
      num_replicas: config.nats.replicas,
    },
    logger,
  );
  return kv;
}

/** Opens (creating when missing) the server catalog bucket: one small entry per server alias. */
export async function ensureServersBucket(nc: NatsConnection, config: Config): Promise<KV> {
  return new Kvm(nc).create(names(config.prefix).serversBucket, {
    history: 1,
    replicas: config.nats.replicas,
    storage: StorageType.File,
    description: 'mcpq server catalog (key = server alias): tool lists and protocol era',
  });
}

export interface Provisioned {
  jsm: JetStreamManager;
  kv: KV;
  names: Names;
}

/** Everything mcpq needs in NATS: the streams, the bucket and (optionally) the consumers. */
export async function provision(
  nc: NatsConnection,
  config: Config,
  options: { consumers?: Array<'submitter' | 'joiner'>; logger?: Logger } = {},
): Promise<Provisioned> {
  const n = names(config.prefix);
  const jsm = await jetstreamManager(nc);
  for (const stream of desiredStreams(config, n)) await ensureStream(jsm, stream, options.logger);
  const kv = await ensureCallsBucket(nc, config, options.logger);
  await ensureServersBucket(nc, config);
  const consumers = desiredConsumers(config, n);
  for (const which of options.consumers ?? []) {
    if (which === 'submitter') {
      await ensureConsumer(jsm, n.streams.submit, consumers.submitter, options.logger);
      await ensureConsumer(jsm, n.streams.advisories, consumers.advisories, options.logger);
    } else {
      await ensureConsumer(jsm, n.streams.join, consumers.joiner, options.logger);
    }
  }
  return { jsm, kv, names: n };
}

export function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

function pick<T extends object, K extends keyof T>(obj: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const k of keys) out[k] = obj[k];
  return out;
}

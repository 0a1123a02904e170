/**
 * How deep mcpq's work queues are, read from JetStream consumer info: what
 * waits undelivered, what is delivered but not acknowledged (held, or parked
 * with a delayed nak), and how old the oldest undelivered message is.
 *
 * Read on scrape, but at most once per `minIntervalMs` (concurrent scrapes
 * share one read) and each read bounded by `timeoutMs`, so a slow or absent
 * NATS never holds a scrape and many scrapers never load the server.
 */
import type { JetStreamManager } from '@nats-io/jetstream';

export interface QueueTarget {
  stream: string;
  consumer: string;
}

export interface QueueStat extends QueueTarget {
  /** Messages not yet delivered to any process. */
  pending: number;
  /** Delivered, not yet acknowledged: being handled, held, or parked until redelivery. */
  ackPending: number;
  /** Messages delivered more than once and still unacknowledged. */
  redelivered: number;
  /** Age in seconds of the oldest undelivered message (0 when none waits). */
  oldestAgeSeconds: number;
}

export interface QueueStatsOptions {
  /** Reads closer together than this return the previous answer. */
  minIntervalMs?: number;
  /** Bound on one read of all targets; past it the read counts as failed. */
  timeoutMs?: number;
}

export interface QueueRead {
  stats: QueueStat[];
  /** Targets whose read failed (missing consumer, timeout, NATS down). */
  failed: QueueTarget[];
}

export class QueueStats {
  private last: { at: number; read: Promise<QueueRead> } | undefined;
  private readonly minIntervalMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly targets: QueueTarget[],
    options: QueueStatsOptions = {},
  ) {
    this.minIntervalMs = options.minIntervalMs ?? 5_000;
    this.timeoutMs = options.timeoutMs ?? 2_000;
  }

  read(now = Date.now()): Promise<QueueRead> {
    if (this.last && now >= this.last.at && now - this.last.at < this.minIntervalMs) return this.last.read;
    const read = this.readAll(now);
    this.last = { at: now, read };
    return read;
  }

  private async readAll(now: number): Promise<QueueRead> {
    const results = await Promise.all(
      this.targets.map(async (t) => ({ target: t, stat: await within(this.timeoutMs, this.readOne(t, now)) })),
    );
    return {
      stats: results.flatMap((r) => (r.stat ? [r.stat] : [])),
      failed: results.flatMap((r) => (r.stat ? [] : [r.target])),
    };
  }

  private async readOne(t: QueueTarget, now: number): Promise<QueueStat> {
    const info = await this.jsm.consumers.info(t.stream, t.consumer);
    let oldestAgeSeconds = 0;
    if (info.num_pending > 0) {
      // The next undelivered message: on a work queue nothing past the delivered sequence is removed
      // (only acknowledged messages are), so it is the one right after it.
      const msg = await this.jsm.streams.getMessage(t.stream, { seq: info.delivered.stream_seq + 1 }).catch(() => null);
      if (msg) oldestAgeSeconds = Math.max(0, (now - msg.time.getTime()) / 1000);
    }
    return {
      ...t,
      pending: info.num_pending,
      ackPending: info.num_ack_pending,
      redelivered: info.num_redelivered,
      oldestAgeSeconds,
    };
  }
}

/** The promise's value, or undefined when it fails or takes longer than `ms`. */
async function within<T>(ms: number, work: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work.catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

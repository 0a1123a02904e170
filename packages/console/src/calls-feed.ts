/**
 * The live list of calls behind the console, shared by every open page: the
 * newest records from one bounded read at start (`scanLimit` records, see
 * @mcpq/client's record-scan.ts: a bucket of a million records costs the
 * same), then every change from a KV watch of new writes, and one core
 * subscription to progress events (for totals and messages, which the
 * record does not keep). Holds the newest `maxCalls` calls in memory; older
 * ones are paged from `olderCursor` through `/api/calls`.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { Kvm, KvWatchInclude, type KvWatchEntry } from '@nats-io/kv';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { scanRecords } from '@mcpq/client';
import {
  ErrorCode,
  isMcpqError,
  isNatsError,
  McpqError,
  parseRecord,
  ProgressEventSchema,
  retryWhileNatsFails,
  type CallRecord,
  type Logger,
  type Names,
} from '@mcpq/shared';
import { progressOf, toCallView, type CallView, type ProgressView } from './call-view.js';

/** How long the initial read is retried while NATS fails, and how long a page waits for it. */
const READY_WAIT_MS = 30_000;

export type FeedChange = { type: 'call'; call: CallView } | { type: 'removed'; callId: string };
type Listener = (change: FeedChange) => void;

export interface CallsFeedOptions {
  nc: NatsConnection;
  names: Names;
  logger: Logger;
  /** Records read at start, newest first (`ui.callsScanLimit`). */
  scanLimit: number;
  /** Calls kept in memory (newest by creation time); older ones are still found by id. */
  maxCalls?: number;
}

export class CallsFeed {
  private readonly calls = new Map<string, CallView>();
  /** Latest progress event per call, kept for records that arrive after their progress (bounded with the calls). */
  private readonly progress = new Map<string, ProgressView>();
  private readonly listeners = new Set<Listener>();
  private readonly maxCalls: number;
  private stopWatch?: () => void;
  private sub?: Subscription;
  private readyResolve!: () => void;
  private readyReject!: (err: unknown) => void;
  /** Where the records older than the initial read start (a `newest` cursor); undefined when it read them all. */
  olderCursor: string | undefined;
  /** Resolves when the initial read is in. */
  readonly ready = new Promise<void>((resolve, reject) => {
    this.readyResolve = resolve;
    this.readyReject = reject;
  });

  constructor(private readonly options: CallsFeedOptions) {
    this.maxCalls = options.maxCalls ?? 5_000;
    void this.ready.catch(() => undefined); // reported by whenReady
  }

  async start(): Promise<void> {
    const { nc, names } = this.options;
    this.sub = nc.subscribe(`${names.prefix}.call.*.progress`, {
      callback: (err, msg) => {
        if (!err) this.onProgress(safeJson(msg.string()));
      },
    });
    const kv = await new Kvm(nc).open(names.bucket);
    // The watch starts before the initial read, so no write falls between them; the writes it sees
    // before that read is in wait for it (they are newer than what the read finds, or the same).
    const watch = await kv.watch({ include: KvWatchInclude.UpdatesOnly });
    this.stopWatch = () => watch.stop();
    let early: KvWatchEntry[] | undefined = [];
    void (async () => {
      for await (const entry of watch) {
        if (early) early.push(entry);
        else this.onEntry(entry);
      }
    })().catch((err: unknown) => this.options.logger.error({ err: String(err) }, 'console: calls watch ended'));
    const source = { js: jetstream(nc), kv };
    const limits = { pageSize: this.options.scanLimit, scanLimit: this.options.scanLimit };
    // Retried while NATS fails, as long as a page waits for it (whenReady): a console started during a
    // NATS hiccup comes up once NATS answers.
    void (async () => {
      let failure: unknown;
      try {
        const page = await retryWhileNatsFails(() => scanRecords(source, { order: 'newest', ...limits }), {
          until: Date.now() + READY_WAIT_MS,
          retryable: (err) => isNatsError(err) || isMcpqError(err, ErrorCode.nats_error),
        });
        for (const { record } of page.records) this.onRecord(record);
        this.olderCursor = page.nextCursor;
      } catch (err) {
        failure = err;
        this.options.logger.error({ err: String(err) }, 'console: the initial read of the calls failed; the list shows new writes only');
      }
      for (const entry of early!) this.onEntry(entry);
      early = undefined;
      if (failure !== undefined) return this.readyReject(failure);
      this.readyResolve();
      void this.loadTotals();
    })();
  }

  /** Waits for the initial load, at most `ms` (a bucket NATS cannot read must not hang the page). */
  async whenReady(ms = READY_WAIT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new McpqError(ErrorCode.nats_error, `the calls bucket was not read within ${ms} ms`)), ms);
    });
    try {
      await Promise.race([this.ready, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  stop(): void {
    this.stopWatch?.();
    this.sub?.unsubscribe();
    this.listeners.clear();
  }

  /** Every call held, newest first. */
  snapshot(): CallView[] {
    return [...this.calls.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  get(callId: string): CallView | undefined {
    return this.calls.get(callId);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private onEntry(entry: KvWatchEntry): void {
    if (entry.operation !== 'PUT' || entry.length === 0) {
      if (this.calls.delete(entry.key)) this.emit({ type: 'removed', callId: entry.key });
      return;
    }
    let record: CallRecord;
    try {
      record = parseRecord(entry.key, entry.string());
    } catch {
      return; // a record mcpq cannot read is reported by the services, not shown
    }
    this.onRecord(record);
  }

  private onRecord(record: CallRecord): void {
    const view = toCallView(record, this.progress.get(record.callId));
    this.calls.set(view.callId, view);
    this.evict();
    this.emit({ type: 'call', call: view });
  }

  private onProgress(json: unknown): void {
    const parsed = ProgressEventSchema.safeParse(json);
    if (!parsed.success) return;
    const seen = progressOf(parsed.data);
    const before = this.progress.get(parsed.data.callId);
    if (before && before.seq > seen.seq) return;
    this.progress.set(parsed.data.callId, seen);
    const call = this.calls.get(parsed.data.callId);
    if (call && call.progress.seq <= seen.seq) {
      const updated = { ...call, progress: seen };
      this.calls.set(call.callId, updated);
      this.emit({ type: 'call', call: updated });
    }
    if (this.progress.size > this.maxCalls * 2) this.progress.delete(this.progress.keys().next().value!);
  }

  /**
   * Calls that were already running when the console started: their last progress event
   * (a direct get, bounded in number) gives the total the record lacks.
   */
  private async loadTotals(): Promise<void> {
    const jsm = await jetstreamManager(this.options.nc, { checkAPI: false });
    const running = this.snapshot()
      .filter((c) => c.progress.seq > 0 && c.progress.total === undefined && !c.finishedAt)
      .slice(0, 200);
    for (const call of running) {
      try {
        const m = await jsm.direct.getMessage(this.options.names.streams.events, {
          last_by_subj: this.options.names.call(call.callId, 'progress'),
        });
        if (m) this.onProgress(safeJson(m.string()));
      } catch {
        return; // totals are a nicety: the next progress event brings them anyway
      }
    }
  }

  private evict(): void {
    // In batches, so a full console does not sort on every change.
    if (this.calls.size <= this.maxCalls * 1.1) return;
    const oldest = this.snapshot().slice(this.maxCalls);
    for (const c of oldest) {
      this.calls.delete(c.callId);
      this.progress.delete(c.callId);
    }
  }

  private emit(change: FeedChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // a broken page connection must not stop the feed
      }
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

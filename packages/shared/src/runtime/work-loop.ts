/**
 * Pulls messages from a durable JetStream consumer and hands each to a
 * handler, never holding more than `concurrency` at once (a message is
 * pulled only when a slot is free, so nothing waits unacknowledged in a local
 * buffer). `stop()` stops pulling; `drain()` waits for the handlers.
 * A handler that throws never stops the loop: its message is retried later.
 * A handler that must wait for something other than this loop's capacity
 * (a per-server budget) gives its slot back with `lease.release()`, so one
 * stalled kind of work cannot hold the slots every other kind needs.
 */
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { describeError, serverOfSubject, sleep } from '@mcpq/contract';
import type { Logger } from '../log.js';
import type { Telemetry } from './telemetry.js';

export interface WorkLoopOptions {
  name: string;
  consumer: () => Promise<Consumer>;
  /** Most messages handled at once. */
  concurrency: number;
  handle: (msg: JsMsg, lease: SlotLease) => Promise<void>;
  logger: Logger;
  /** How long one pull request waits for messages (min 1000). */
  pullExpiresMs?: number;
  /** Delay before a message whose handler threw is delivered again. */
  errorRetryMs?: number;
  /**
   * A message whose handler threw this many times in a row (in this process)
   * goes to `giveUp` instead of round again: every retry loop ends.
   */
  maxFailures?: number;
  /** Ends a message the handler keeps failing on (fails its call, dead-letters it); must ack or term it. */
  giveUp?: (msg: JsMsg, err: unknown) => Promise<void>;
  /** Told how long each message waited in its stream before its first delivery (queue-wait metric). */
  telemetry?: Telemetry;
}

/** Most messages whose failures in a row are remembered (the oldest are forgotten first). */
const MAX_TRACKED_FAILURES = 10_000;

/** A handler's hold on one of the loop's slots. */
export interface SlotLease {
  /** Gives the slot back while the handler goes on (idempotent); the loop pulls another message into it. */
  release(): void;
}

export type WorkLoopState = 'idle' | 'running' | 'stopping' | 'stopped';

export class WorkLoop {
  /** Slots taken (handlers that did not release theirs). */
  private inFlightCount = 0;
  /** Handlers running, released or not: what drain() waits for. */
  private runningCount = 0;
  private slotWaiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];
  private current?: ConsumerMessages | undefined;
  private loop?: Promise<void> | undefined;
  private stopSignal = new AbortController();
  /** Failures in a row by stream sequence. */
  private readonly failures = new Map<number, number>();
  state: WorkLoopState = 'idle';

  constructor(private readonly opts: WorkLoopOptions) {}

  /** Messages being handled (including those whose handler gave its slot back to wait elsewhere). */
  get inFlight(): number {
    return this.runningCount;
  }

  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    this.loop = this.run();
  }

  /** Stops pulling. Messages already delivered to a pull that is closing are handed back at once. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return this.loop;
    this.state = 'stopping';
    this.stopSignal.abort();
    this.current?.stop();
    for (const w of this.slotWaiters.splice(0)) w();
    await this.loop;
    this.state = 'stopped';
  }

  /**
   * How long one pull request lives on the server. After stop() the last one
   * lingers there until then, holding no interest: a message JetStream hands
   * it meanwhile is mishandled by nats-server 2.9.10 (one redelivered twice,
   * another held back until its nak delay ends).
   */
  get pullExpiresMs(): number {
    return this.opts.pullExpiresMs ?? 5_000;
  }

  /** Resolves when no handler runs, or after `timeoutMs`; returns how many were still running. */
  async drain(timeoutMs: number): Promise<number> {
    if (this.runningCount === 0) return 0;
    await Promise.race([new Promise<void>((r) => this.idleWaiters.push(r)), sleep(timeoutMs)]);
    return this.runningCount;
  }

  private async run(): Promise<void> {
    const { logger, name } = this.opts;
    let consumer: Consumer | undefined;
    while (this.state === 'running') {
      await this.freeSlot();
      if (this.state !== 'running') break;
      try {
        consumer ??= await this.opts.consumer();
        const want = this.opts.concurrency - this.inFlightCount;
        const batch = await consumer.fetch({ max_messages: want, expires: this.pullExpiresMs });
        this.current = batch;
        for await (const msg of batch) {
          if (this.state !== 'running') {
            msg.nak();
            continue;
          }
          this.dispatch(msg);
        }
      } catch (err) {
        if (this.state !== 'running') break;
        logger.warn({ loop: name, err: describeError(err) }, 'pull failed; retrying');
        consumer = undefined;
        await sleep(1_000, this.stopSignal.signal);
      } finally {
        this.current = undefined;
      }
    }
  }

  private dispatch(msg: JsMsg): void {
    this.inFlightCount++;
    if (this.opts.telemetry && msg.info.deliveryCount === 1) {
      const waitMs = Date.now() - Math.floor(msg.info.timestampNanos / 1_000_000);
      this.opts.telemetry.emit('queue:taken', { queue: this.opts.name, server: serverOfSubject(msg.subject), waitMs });
    }
    this.runningCount++;
    let held = true;
    const lease: SlotLease = {
      release: () => {
        if (!held) return;
        held = false;
        this.inFlightCount--;
        this.slotWaiters.shift()?.();
      },
    };
    this.opts
      .handle(msg, lease)
      .then(() => this.failures.delete(msg.seq))
      .catch(async (err: unknown) => {
        const failures = (this.failures.get(msg.seq) ?? 0) + 1;
        this.failures.delete(msg.seq);
        if (this.opts.giveUp && this.opts.maxFailures !== undefined && failures >= this.opts.maxFailures) {
          try {
            await this.opts.giveUp(msg, err);
            return;
          } catch (giveUpErr) {
            this.opts.logger.error({ loop: this.opts.name, seq: msg.seq, err: describeError(giveUpErr) }, 'giving up on a message failed');
          }
        }
        this.failures.set(msg.seq, failures);
        if (this.failures.size > MAX_TRACKED_FAILURES) this.failures.delete(this.failures.keys().next().value!);
        this.opts.logger.error(
          {
            loop: this.opts.name,
            subject: msg.subject,
            seq: msg.seq,
            err: describeError(err),
            stack: err instanceof Error ? err.stack : undefined,
          },
          'handler failed; message will be retried',
        );
        try {
          msg.nak(this.opts.errorRetryMs ?? 5_000);
        } catch {
          // Connection gone: AckWait redelivers it.
        }
      })
      .finally(() => {
        lease.release();
        this.runningCount--;
        if (this.runningCount === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
  }

  private freeSlot(): Promise<void> {
    if (this.inFlightCount < this.opts.concurrency) return Promise.resolve();
    return new Promise((r) => this.slotWaiters.push(r));
  }
}

/**
 * The task watcher: parked task-mode calls cost what their completions cost,
 * not what their number costs.
 *
 * A task-mode delivery that finds its task still working gives its join back
 * for a long lease (joiner.parkLeaseMs, never past the deadline) and registers
 * the call here: a small entry (ids, the recorded status and message, the
 * join delivery's ack subject), no message, record or timer per call. One
 * timer per joiner looks at the entries; per server it learns the task states
 *
 * - by `tasks/list` when the server advertises `tasks.list` (2025-11-25 tasks):
 *   one sweep per session, pages followed by nextCursor, stopped once every
 *   watched task of the session was seen (a task the list leaves out is then
 *   asked by tasks/get: a list that lies costs requests, never a call);
 * - otherwise by `tasks/get` of the entries that are due (no more often than
 *   each one's poll interval), 2026-07-28 tasks through the modern client;
 *
 * every request within the server's poll budget (servers.<alias>.pollsPerSecond,
 * at most servers.<alias>.maxPolling at once). With N parked calls and budget B
 * a completion is noticed within about N / B seconds (tasks/get), or
 * N / (10 B) with the SDK's 10-task pages of tasks/list.
 *
 * A task whose lease is no longer than its poll interval (a server asking for
 * polls joiner.parkLeaseMs or more apart, or a deadline near) is never due
 * before its lease ends, when its join's redelivery polls it: the watcher only
 * wakes it early, on a notification or on what a sweep of its session shows.
 *
 * Where the server pushes task states (servers.<alias>.taskNotifications: a
 * 2025-11-25 session's GET stream with `notifications/tasks/status`, see
 * ./status-stream.ts) the watcher holds one stream per session it watches
 * tasks of and wakes a call on its task's notification at once. Polls stay the
 * safety net: while the stream is open each task is asked every
 * max(poll interval, servers.<alias>.notifiedPollMs) instead of every poll
 * interval, and every (re)open makes the session's tasks due (one sweep
 * re-learns what the stream missed) at once, or once a poll interval passed
 * since a task's last look. A notification for a task not
 * watched (yet) is remembered, boundedly, so a call registered just after it
 * is asked once at once. The 2026-07-28 SDK (server 2.4.0) sends no task
 * status on `subscriptions/listen` (its filter has no task ids): its tasks are
 * polled.
 *
 * Such a server allows one stream per session (the SDK v1 answers a second
 * GET with 409), and every task call to it lives in the submitter's one
 * session: only one joiner holds it. That joiner passes each well-formed
 * status it hears on to the others (joiner.shareTaskStatus, a core-NATS cue
 * on `<prefix>.ctl.taskstatus.<server>`, ./status-cues.ts), and a cue is taken
 * exactly as a notification of the joiner's own stream (`cue`): it only
 * wakes, with the same spacing per task. Their polls stay as they are (their
 * own stream is not open), the safety net when the holder goes.
 *
 * When a task ended, asks for input or changed its statusMessage
 * (taskNeedsFollow), or its polls keep failing, the watcher *wakes* the call:
 * `-NAK` on the kept ack subject, so JetStream redelivers the join at once
 * (checked on nats-server 2.9.10: a second nak of a delivery naked with a
 * delay redelivers it at once) and the normal follow path, on any joiner,
 * handles it (one more tasks/get per wake; results, progress, retries and
 * failures keep their one home there). An entry whose lease passed is dropped:
 * its join comes back by itself and re-registers wherever it lands.
 */
import {
  ErrorCode,
  McpqError,
  describeError,
  toMcpqError,
  type Config,
  type Logger,
  type McpHttpClient,
  type ModernMcpClient,
  type Telemetry,
  type TaskStatusCue,
  isJsonObject,
  taskSessionTag,
} from '@mcpq/shared';
import { taskNeedsFollow, unknownTaskIsLost, type TaskToWatch } from '../follow/index.js';
import { PollBudget } from './poll-budget.js';
import { TaskStatusStream } from './status-stream.js';

/** How often the watcher looks at its entries. */
const TICK_MS = 100;
/** Failed polls in a row of one task before its call is woken (the follow path's retry accounting decides then). */
const MAX_POLL_FAILURES = 3;
/** After tasks/list failed (an error, or an answer that is not a task list), the server is asked by tasks/get for this long. */
const LIST_BACKOFF_MS = 30_000;
/** After the capabilities could not be read, they are read again after this long (tasks/get meanwhile). */
const PROBE_BACKOFF_MS = 10_000;
/** Pages a sweep may read beyond those its watched tasks fill (the list holds ended tasks too, until their ttl). */
const SWEEP_SLACK_PAGES = 20;
/**
 * An entry is kept this long after its lease ends, neither asked nor woken
 * (its delivery's ack subject is stale by then), so the redelivery can renew
 * it (Joiner.renewLease) instead of following the call again.
 */
const LEASE_GRACE_MS = 10_000;
/** tasks/list pages of one sweep, at most: twice the pages the watched tasks fill (10 a page), plus SWEEP_SLACK_PAGES. */
const sweepPages = (watched: number) => 2 * Math.ceil(watched / 10) + SWEEP_SLACK_PAGES;
/** After a server refused a notification stream (a non-retryable answer but 404: 405, 401, ...), none is opened to it for this long. */
const STREAM_REFUSED_BACKOFF_MS = 300_000;
/** Task ids remembered per server from notifications about tasks not watched then (oldest forgotten first). */
const HEARD_MAX = 1024;
/**
 * A session's notification stream is kept this long after its last watched task went (woken calls
 * come back to be parked again moments later): closing at once would cost a re-open and a re-learn
 * of the session's tasks per wake.
 */
const STREAM_IDLE_MS = 30_000;

export interface TaskWatcherDeps {
  config: Pick<Config, 'joiner' | 'servers'>;
  logger: Logger;
  telemetry: Telemetry;
  client(server: string): McpHttpClient;
  modern(server: string): ModernMcpClient;
  /** The server's capabilities from its initialize answer (this joiner's own session). */
  capabilities(server: string): Promise<Record<string, unknown>>;
  /** Redelivers a parked join now (or after `delayMs`): publishes `-NAK` on its delivery's ack subject. */
  wake(ackSubject: string, delayMs: number): void;
  /** Passes a well-formed status heard on this joiner's stream on to the other joiners (joiner.shareTaskStatus). */
  passOn?(server: string, session: string, taskId: string, status: string, message: string | undefined): void;
}

/** A watched call, as `take` hands it back for a renewal. */
export type WatchedTask = Readonly<Entry>;

interface Entry extends TaskToWatch {
  callId: string;
  server: string;
  ackSubject: string;
  /** Session id and protocol version as one key (computed once: the timer reads it often). */
  sessionKey: string;
  /** taskSessionTag of a 2025-11-25 session (how cues from other joiners name it; computed once). */
  sessionTag: string | undefined;
  /** When the join comes back by itself (epoch ms). */
  leaseEnd: number;
  /** When the task is next looked at (epoch ms). */
  nextDue: number;
  registeredAt: number;
  /** When the task's state was last learned (the follow path's look before it was registered, a poll, a sweep): epoch ms. */
  lookedAt: number;
  failures: number;
  /** tasks/list left this task out: ask it by tasks/get. */
  byGet: boolean;
  /** A tasks/get of it is under way. */
  busy: boolean;
}

/** Per server: its budget, requests under way, whether tasks/list is used, and its watched tasks by task id. */
interface ServerState {
  budget: PollBudget;
  polling: number;
  list: 'unknown' | 'probing' | 'yes' | 'no';
  /** tasks/list (or the capability probe) is not tried before this time. */
  listRetryAt: number;
  /** Session keys with a tasks/list sweep under way. */
  sweeping: Set<string>;
  byTask: Map<string, Entry>;
  /**
   * 2025-11-25 sessions with watched tasks, by session key: how many, the session (for its
   * notification stream), and since when none (kept STREAM_IDLE_MS, with its stream).
   */
  sessions: Map<string, { session: { sessionId: string; protocolVersion: string }; count: number; idleSince: number }>;
  /** Notification streams, by session key (servers.<alias>.taskNotifications). */
  streams: Map<string, TaskStatusStream>;
  /** No notification stream is opened before this time (the server refused one). */
  streamsRetryAt: number;
  /** Task ids a notification spoke of while not watched (bounded by HEARD_MAX): asked at once when they are. */
  heard: Set<string>;
  /** When a notification last woke each task (bounded by HEARD_MAX): wakes by notification are joiner.pollMinMs apart. */
  notifiedWakes: Map<string, number>;
}

export class TaskWatcher {
  private readonly entries = new Map<string, Entry>();
  private readonly servers = new Map<string, ServerState>();
  private timer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private running = false;

  constructor(private readonly deps: TaskWatcherDeps) {}

  /** Whether parked task calls are leased and watched (joiner.parkLeaseMs > 0 and the watcher runs). */
  get active(): boolean {
    return this.running && this.deps.config.joiner.parkLeaseMs > 0;
  }

  /** Parked calls watched now, by server (the mcpq_tasks_watched gauge). */
  watchedByServer(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const alias of this.servers.keys()) counts.set(alias, 0);
    for (const e of this.entries.values()) counts.set(e.server, (counts.get(e.server) ?? 0) + 1);
    return counts;
  }

  get size(): number {
    return this.entries.size;
  }

  start(): void {
    this.running = true;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  /**
   * Stops watching. With `wakeAfterMs`, every watched call is woken to come
   * back after that delay, so another joiner takes it then instead of at its
   * lease end. Returns how many.
   */
  stop(wakeAfterMs: number | undefined): number {
    if (!this.running) return 0;
    this.running = false;
    clearInterval(this.timer);
    this.abort.abort();
    for (const s of this.servers.values()) {
      for (const stream of s.streams.values()) stream.close();
      s.streams.clear();
    }
    let woken = 0;
    for (const e of [...this.entries.values()]) {
      if (wakeAfterMs !== undefined && e.leaseEnd > Date.now() + wakeAfterMs) {
        this.wake(e, 'shutdown', wakeAfterMs);
        woken += 1;
      } else this.remove(e);
    }
    return woken;
  }

  /**
   * Watches a parked call until its lease ends (replacing an earlier entry of
   * the call). False when it cannot (stopped, or a server not in the config):
   * the caller then parks the call for its poll interval only.
   */
  watch(callId: string, server: string, task: TaskToWatch, ackSubject: string, leaseEnd: number): boolean {
    if (!this.running || !this.deps.config.servers[server]) return false;
    this.forget(callId);
    const now = Date.now();
    const entry: Entry = {
      ...task,
      callId,
      server,
      ackSubject,
      sessionKey: sessionKey(task),
      sessionTag: task.era === 'classic' && task.sessionId !== undefined ? taskSessionTag(task.sessionId, task.protocolVersion) : undefined,
      leaseEnd,
      nextDue: now + task.pollMs,
      registeredAt: now,
      lookedAt: now,
      failures: 0,
      byGet: false,
      busy: false,
    };
    const s = this.add(entry);
    // A notification may have come between the follow path's look at the task and now: ask once at once.
    if (s.heard.delete(task.taskId)) entry.nextDue = now;
    else entry.nextDue = now + this.interval(s, entry);
    return true;
  }

  /** A delivery of the call is being handled: its entry (if any) is stale. */
  forget(callId: string): void {
    this.take(callId);
  }

  /** Removes the call's entry and returns it (for `restore`), so nothing wakes the delivery being handled. */
  take(callId: string): WatchedTask | undefined {
    const e = this.entries.get(callId);
    if (e) this.remove(e);
    return e;
  }

  /**
   * Renews a taken entry for the call's new delivery: same task, same state
   * seen so far, a new ack subject and lease. What the entry knew stays (when
   * it is next due), so a lease's end costs no request to the server.
   */
  restore(taken: WatchedTask, ackSubject: string, leaseEnd: number): boolean {
    if (!this.running || this.entries.has(taken.callId)) return false;
    const entry: Entry = { ...taken, ackSubject, leaseEnd, busy: false };
    const s = this.add(entry);
    // A notification that came while the entry was taken (the redelivery being handled) is looked into now.
    if (s.heard.delete(entry.taskId)) entry.nextDue = Date.now();
    return true;
  }

  private state(server: string): ServerState {
    let s = this.servers.get(server);
    if (!s) {
      const cfg = this.deps.config.servers[server]!;
      s = {
        budget: new PollBudget(cfg.pollsPerSecond),
        polling: 0,
        list: 'unknown',
        listRetryAt: 0,
        sweeping: new Set(),
        byTask: new Map(),
        sessions: new Map(),
        streams: new Map(),
        streamsRetryAt: 0,
        heard: new Set(),
        notifiedWakes: new Map(),
      };
      this.servers.set(server, s);
    }
    return s;
  }

  private add(e: Entry): ServerState {
    const s = this.state(e.server);
    this.entries.set(e.callId, e);
    s.byTask.set(e.taskId, e);
    if (e.era === 'classic' && e.sessionId !== undefined) {
      const known = s.sessions.get(e.sessionKey);
      if (known) known.count += 1;
      else
        s.sessions.set(e.sessionKey, { session: { sessionId: e.sessionId, protocolVersion: e.protocolVersion }, count: 1, idleSince: 0 });
    }
    return s;
  }

  private remove(e: Entry): void {
    if (this.entries.get(e.callId) === e) this.entries.delete(e.callId);
    const s = this.servers.get(e.server);
    if (s?.byTask.get(e.taskId) !== e) return;
    s.byTask.delete(e.taskId);
    const known = s.sessions.get(e.sessionKey);
    if (known && --known.count === 0) known.idleSince = Date.now();
  }

  /** How long after a look a task is looked at again: its poll interval, or notifiedPollMs while its session's stream is open. */
  private interval(s: ServerState, e: Entry): number {
    if (s.streams.get(e.sessionKey)?.state !== 'live') return e.pollMs;
    return Math.max(e.pollMs, this.deps.config.servers[e.server]!.notifiedPollMs);
  }

  /**
   * Opens a notification stream for each watched session that has none (where
   * the server's config wants them and it has not refused one lately), and
   * closes those of sessions with nothing watched for STREAM_IDLE_MS.
   */
  private tendStreams(now: number): void {
    for (const [server, s] of this.servers) {
      for (const [key, known] of s.sessions) {
        if (known.count > 0 || now - known.idleSince < STREAM_IDLE_MS) continue;
        s.sessions.delete(key);
        s.streams.get(key)?.close();
        s.streams.delete(key);
      }
      for (const [key, stream] of s.streams) {
        // Refused by the server: tried again after streamsRetryAt. A session the server no longer knows keeps
        // its refused stream (none is opened for it again) until nothing of it is watched.
        if (stream.state === 'refused' && !stream.sessionGone) s.streams.delete(key);
      }
      if (!this.deps.config.servers[server]!.taskNotifications || now < s.streamsRetryAt) continue;
      for (const [key, known] of s.sessions) {
        if (known.count > 0 && !s.streams.has(key)) s.streams.set(key, this.openStream(server, s, key, known.session));
      }
    }
  }

  private openStream(
    server: string,
    s: ServerState,
    key: string,
    session: { sessionId: string; protocolVersion: string },
  ): TaskStatusStream {
    const inSession = function* (): Generator<Entry> {
      for (const e of s.byTask.values()) if (e.sessionKey === key && e.era === 'classic') yield e;
    };
    const tag = taskSessionTag(session.sessionId, session.protocolVersion);
    return new TaskStatusStream({
      server,
      client: this.deps.client(server),
      session,
      logger: this.deps.logger,
      onOpen: () => {
        this.deps.telemetry.emit('task:stream', { server, event: 'open' });
        // What changed before the stream opened (or while it was down) is learned by one look: now, or
        // once the task's poll interval since its last look has passed (never sooner than the server asked).
        const now = Date.now();
        for (const e of inSession()) if (!e.busy) e.nextDue = Math.min(e.nextDue, Math.max(now, e.lookedAt + e.pollMs));
      },
      onStatus: (taskId, status, message) => {
        this.deps.passOn?.(server, tag, taskId, status, message);
        this.notified(
          s,
          taskId,
          status,
          message,
          (e) => e.sessionKey === key,
          (outcome) => this.deps.telemetry.emit('task:notification', { server, outcome }),
        );
      },
      onMalformed: () => this.deps.telemetry.emit('task:notification', { server, outcome: 'malformed' }),
      onDown: (refused) => {
        this.deps.telemetry.emit('task:stream', { server, event: refused ? 'refused' : 'down' });
        if (refused === 'server') s.streamsRetryAt = Date.now() + STREAM_REFUSED_BACKOFF_MS;
        // Back to polling at each task's own interval until the stream is open again.
        const soon = Date.now();
        for (const e of inSession()) e.nextDue = Math.min(e.nextDue, soon + e.pollMs);
      },
    });
  }

  /**
   * A cue from another joiner (already schema-checked): taken as a notification of this joiner's own
   * stream for the session it names. A session whose stream this joiner holds open hears it itself.
   */
  cue(server: string, cue: TaskStatusCue): void {
    const s = this.running && this.deps.config.servers[server] ? this.state(server) : undefined;
    if (!s) {
      this.deps.telemetry.emit('task:cue', { server: '', outcome: 'unknown' });
      return;
    }
    const watched = s.byTask.get(cue.taskId);
    if (watched?.sessionTag === cue.session && s.streams.get(watched.sessionKey)?.state === 'live') {
      this.deps.telemetry.emit('task:cue', { server, outcome: 'own_stream' });
      return;
    }
    this.notified(
      s,
      cue.taskId,
      cue.status,
      cue.statusMessage,
      (e) => e.sessionTag === cue.session,
      (outcome) => this.deps.telemetry.emit('task:cue', { server, outcome }),
    );
  }

  /**
   * A task status told (by this joiner's stream, or another joiner's cue) about a task of a session
   * (`ofSession` says whether a watched entry is of it): wakes the call when it needs following, at
   * most once per joiner.pollMinMs per task; a task not watched is remembered (HEARD_MAX).
   */
  private notified(
    s: ServerState,
    taskId: string,
    status: string,
    message: string | undefined,
    ofSession: (e: Entry) => boolean,
    count: (outcome: 'used' | 'unknown') => void,
  ): void {
    const e = s.byTask.get(taskId);
    if (!e || !ofSession(e)) {
      count('unknown');
      s.heard.delete(taskId);
      s.heard.add(taskId);
      if (s.heard.size > HEARD_MAX) s.heard.delete(s.heard.values().next().value!);
      return;
    }
    count('used');
    // Only a change wakes the call (whose follow path's tasks/get decides); a status that changes
    // nothing leaves the safety poll where it was, so a server repeating itself cannot put it off.
    const reason = taskNeedsFollow(e, { status, message });
    if (!reason) return;
    // A task a notification woke moments ago, whose follow path's tasks/get found nothing to do (it is
    // watched again): a server repeating what its tasks/get denies must not drive a wake, tasks/get and
    // redelivery per notification. Its poll (within the server's budget) looks once the spacing is over.
    const now = Date.now();
    const spacing = this.deps.config.joiner.pollMinMs;
    const last = s.notifiedWakes.get(taskId);
    if (last !== undefined && now - last < spacing) {
      e.nextDue = Math.min(e.nextDue, last + spacing);
      return;
    }
    s.notifiedWakes.delete(taskId);
    s.notifiedWakes.set(taskId, now);
    if (s.notifiedWakes.size > HEARD_MAX) s.notifiedWakes.delete(s.notifiedWakes.keys().next().value!);
    this.wake(e, reason);
  }

  private wake(e: Entry, reason: string, delayMs = 0): void {
    if (this.entries.get(e.callId) !== e) return; // replaced or dropped meanwhile
    // A poll answered after the lease ended: the join is redelivered by itself, and a nak on the old
    // delivery's ack subject would redeliver it a second time (nats-server 2.9.10 honours stale ones).
    if (e.leaseEnd <= Date.now()) return;
    this.remove(e);
    this.deps.wake(e.ackSubject, delayMs);
    this.deps.telemetry.emit('task:wake', { callId: e.callId, server: e.server, reason });
  }

  /** One look at every entry: drop those whose lease passed, and ask for the due ones within each server's budget. */
  private tick(): void {
    const now = Date.now();
    this.tendStreams(now);
    for (const e of this.entries.values()) {
      if (e.busy) continue;
      if (e.leaseEnd <= now) {
        // Its join comes back by itself now (to this joiner, which renews the entry, or another).
        if (e.leaseEnd + LEASE_GRACE_MS <= now) this.remove(e);
        continue;
      }
      if (e.nextDue > now) continue;
      const s = this.state(e.server);
      const way = e.era === 'classic' && !e.byGet ? this.howToAsk(e.server, s, now) : 'get';
      if (way === 'wait') continue;
      if (way === 'list') {
        if (!s.sweeping.has(e.sessionKey)) void this.sweep(e.server, s, { sessionId: e.sessionId, protocolVersion: e.protocolVersion });
        continue;
      }
      if (s.polling < this.deps.config.servers[e.server]!.maxPolling && s.budget.tryTake(now)) void this.poll(s, e);
    }
  }

  /**
   * How a 2025-11-25 task of this server is asked now: by tasks/list, by
   * tasks/get, or not yet (its capabilities are being read, within the
   * server's connectTimeoutMs).
   */
  private howToAsk(server: string, s: ServerState, now: number): 'list' | 'get' | 'wait' {
    if (now < s.listRetryAt) return 'get';
    if (s.list === 'yes') return 'list';
    if (s.list === 'no') return 'get';
    if (s.list === 'probing') return 'wait';
    s.list = 'probing';
    this.deps.capabilities(server).then(
      (caps) => {
        const tasks = caps.tasks;
        s.list = isJsonObject(tasks) && isJsonObject(tasks.list) ? 'yes' : 'no';
        this.deps.logger.info({ server, tasksList: s.list === 'yes' }, 'task watcher: how parked tasks are followed');
      },
      (err: unknown) => {
        s.list = 'unknown';
        s.listRetryAt = Date.now() + PROBE_BACKOFF_MS;
        this.deps.logger.warn(
          { server, err: describeError(err) },
          'task watcher: could not read the server capabilities; tasks/get meanwhile',
        );
      },
    );
    return 'wait';
  }

  /** One tasks/get of a due entry. */
  private async poll(s: ServerState, e: Entry): Promise<void> {
    e.busy = true;
    s.polling += 1;
    const signal = this.abort.signal;
    try {
      let status: string;
      let message: string | undefined;
      if (e.era === 'modern') {
        const view = await this.deps.modern(e.server).getTask(e.taskId, { signal });
        status = view.task.status;
        message = view.task.statusMessage;
      } else {
        const task = await this.deps
          .client(e.server)
          .request({ sessionId: e.sessionId, protocolVersion: e.protocolVersion }, 'tasks/get', { taskId: e.taskId }, { signal });
        // As the follower reads it (./follow/task.ts): no status means still working.
        status = typeof task.status === 'string' ? task.status : 'working';
        message = typeof task.statusMessage === 'string' ? task.statusMessage : undefined;
      }
      this.deps.telemetry.emit('task:poll', { server: e.server, method: 'tasks/get', ok: true });
      e.failures = 0;
      this.seen(e, status, message);
    } catch (err) {
      if (!this.running) return;
      this.deps.telemetry.emit('task:poll', { server: e.server, method: 'tasks/get', ok: false });
      e.failures += 1;
      const error = unknownTaskIsLost(toMcpqError(err, ErrorCode.server_unreachable), e.taskId);
      // The follow path's retry accounting (retryOrFail, maxRejoinFailures) decides what a failure means.
      if (error.code === ErrorCode.session_lost || !error.retryable || e.failures >= MAX_POLL_FAILURES) this.wake(e, 'poll_failed');
      else {
        // A server's Retry-After (already capped by limits.maxRetryAfterMs in the client) is honoured, as on the follow path.
        const wait = Math.min(this.deps.config.joiner.pollMaxMs, Math.max(error.retryAfterMs ?? 0, e.pollMs * 2 ** e.failures));
        e.nextDue = Date.now() + wait;
        this.deps.logger.warn(
          { callId: e.callId, server: e.server, failures: e.failures, retryInMs: wait, err: describeError(error) },
          'task poll failed; will poll again',
        );
      }
    } finally {
      e.busy = false;
      s.polling -= 1;
    }
  }

  /** What a poll or a list page said about a watched task. */
  private seen(e: Entry, status: string, message: string | undefined): void {
    e.lookedAt = Date.now();
    const reason = taskNeedsFollow(e, { status, message });
    if (reason) this.wake(e, reason);
    else e.nextDue = Date.now() + this.interval(this.state(e.server), e);
  }

  /**
   * One tasks/list sweep of a session: pages until every watched task of the
   * session was seen, the list ends, or a bound of pages. What the list did not
   * show (it may lie) is asked by tasks/get; a list that fails or answers
   * something that is not a task list is not used for LIST_BACKOFF_MS.
   */
  private async sweep(server: string, s: ServerState, session: { sessionId: string | undefined; protocolVersion: string }): Promise<void> {
    const key = sessionKey(session);
    s.sweeping.add(key);
    const started = Date.now();
    const inSession = (e: Entry) => e.era === 'classic' && !e.byGet && e.sessionKey === key && e.registeredAt <= started;
    // The tasks the sweep looks for: not those never due before their lease ends (a poll interval no shorter
    // than the lease), which no page is read for; shown on the pages read anyway, they are looked at too.
    const sought = new Set<Entry>();
    for (const e of s.byTask.values()) if (inSession(e) && e.nextDue < e.leaseEnd) sought.add(e);
    let unseen = sought.size;
    const maxPages = sweepPages(unseen);
    const seen = new Set<string>();
    let cursor: string | undefined;
    try {
      for (let page = 0; page < maxPages && unseen > 0 && this.running; page += 1) {
        if (!(await this.turn(server, s))) return;
        let answer: Record<string, unknown>;
        try {
          answer = await this.deps.client(server).request(session, 'tasks/list', cursor ? { cursor } : {}, { signal: this.abort.signal });
          if (!Array.isArray(answer.tasks)) throw new McpqError(ErrorCode.protocol_error, 'tasks/list answered without a tasks array');
        } finally {
          s.polling -= 1;
        }
        this.deps.telemetry.emit('task:poll', { server, method: 'tasks/list', ok: true });
        for (const t of answer.tasks as unknown[]) {
          if (!isJsonObject(t) || typeof t.taskId !== 'string' || typeof t.status !== 'string' || seen.has(t.taskId)) continue;
          const e = s.byTask.get(t.taskId);
          if (!e || !inSession(e) || e.busy) continue;
          seen.add(t.taskId);
          if (sought.has(e)) unseen -= 1;
          this.seen(e, t.status, typeof t.statusMessage === 'string' ? t.statusMessage : undefined);
        }
        const next = answer.nextCursor;
        if (typeof next !== 'string' || next === '' || next === cursor) break;
        cursor = next;
      }
    } catch (err) {
      if (!this.running) return;
      this.deps.telemetry.emit('task:poll', { server, method: 'tasks/list', ok: false });
      s.listRetryAt = Date.now() + LIST_BACKOFF_MS;
      this.deps.logger.warn(
        { server, err: describeError(err), retryInMs: LIST_BACKOFF_MS },
        'task watcher: tasks/list failed; asking parked tasks by tasks/get meanwhile',
      );
    } finally {
      s.sweeping.delete(key);
    }
    // Watched tasks of the session the sweep did not show: asked one by one from now on.
    for (const e of sought) if (inSession(e) && !seen.has(e.taskId)) e.byGet = true;
  }

  /** Waits for a request's turn under the server's budget and maxPolling (counted in `polling`); false once stopped. */
  private async turn(server: string, s: ServerState): Promise<boolean> {
    const max = this.deps.config.servers[server]!.maxPolling;
    // Bounded: the budget refills at pollsPerSecond and requests under way end within requestTimeoutMs.
    while (this.running) {
      if (s.polling < max && s.budget.tryTake()) {
        s.polling += 1;
        return true;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(TICK_MS / 4, s.budget.waitMs())).unref());
    }
    return false;
  }
}

function sessionKey(s: { sessionId: string | undefined; protocolVersion: string }): string {
  return `${s.sessionId ?? ''}\n${s.protocolVersion}`;
}

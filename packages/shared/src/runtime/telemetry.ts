/**
 * One typed event map for what happens to calls. Services emit; metrics
 * (and anything else that wants to observe) subscribe. Emitting never
 * throws: a broken observer must not break a call.
 */
import type { Mode, TerminalStatus } from '@mcpq/contract';

export interface TelemetryEvents {
  /** A call was started upstream (or handed to a joiner, in hold mode). */
  'call:dispatched': { callId: string; server: string; mode: Mode; latencyMs: number; tool?: string | undefined };
  /** A dispatch or rejoin failed and will be tried again. */
  'call:retry': { callId: string; stage: 'dispatch' | 'rejoin'; code: string; server?: string | undefined };
  /** A joiner started following a call (stream open, poll answered). */
  'call:rejoined': { callId: string; mode: Mode; latencyMs: number; server?: string | undefined };
  /** A joiner gave a call back to the queue to come back later. */
  'call:parked': { callId: string; delayMs: number; server?: string | undefined };
  /** A joiner's task watcher asked a server for task states: one tasks/get, or one page of tasks/list. */
  'task:poll': { server: string; method: 'tasks/get' | 'tasks/list'; ok: boolean };
  /** A task status notification on a joiner's task-watcher stream: used (a watched task), unknown task, or malformed. */
  'task:notification': { server: string; outcome: 'used' | 'unknown' | 'malformed' };
  /**
   * A task status cue (`<prefix>.ctl.taskstatus.<server>`): published (passed on from this joiner's stream), or
   * received from another joiner and used (a watched task), own_stream (a watched task of a session whose stream this
   * joiner holds open: it hears it itself), unknown (a task not watched here) or malformed (dropped).
   */
  'task:cue': { server: string; outcome: 'published' | 'used' | 'own_stream' | 'unknown' | 'malformed' };
  /** A joiner's task-watcher notification stream opened, dropped (it re-opens), or was refused by the server. */
  'task:stream': { server: string; event: 'open' | 'down' | 'refused' };
  /** A joiner's task watcher woke a parked call (its join is redelivered at once). */
  'task:wake': { callId: string; server: string; reason: string };
  /**
   * A call's one result was published; durationMs is end to end (accepted to finished).
   * `isError` is a tool error (status completed, `result.isError: true`).
   */
  'call:finished': {
    callId: string;
    mode?: Mode | undefined;
    status: TerminalStatus;
    code?: string | undefined;
    durationMs: number;
    server?: string | undefined;
    tool?: string | undefined;
    isError?: boolean | undefined;
  };
  /**
   * A work loop took a message on its first delivery; waitMs is how long it
   * waited in the stream (from publish to being taken). `server` is the last
   * token of the subject (`<prefix>.submit.<server>`, `<prefix>.join.<server>`).
   */
  'queue:taken': { queue: string; server: string; waitMs: number };
  /** The MCP server was told of a cancellation (after the caller had its answer): `told` says whether it took the message. */
  'call:upstream-cancel': { callId: string; told: boolean };
  'dead-letter': { reason: string; code: string };
  /** JetStream dropped an event as a repeat (a takeover republished it): the dedupe at work. */
  'event:duplicate': { kind: string };
  'nats:reconnect': Record<string, never>;
}

type Listener<K extends keyof TelemetryEvents> = (event: TelemetryEvents[K]) => void;

export class Telemetry {
  private readonly listeners = new Map<keyof TelemetryEvents, Array<(event: never) => void>>();

  on<K extends keyof TelemetryEvents>(name: K, listener: Listener<K>): void {
    const list = this.listeners.get(name) ?? [];
    list.push(listener as (event: never) => void);
    this.listeners.set(name, list);
  }

  emit<K extends keyof TelemetryEvents>(name: K, event: TelemetryEvents[K]): void {
    for (const l of (this.listeners.get(name) ?? []) as Array<Listener<K>>) {
      try {
        l(event);
      } catch {
        // observers must not break calls
      }
    }
  }
}

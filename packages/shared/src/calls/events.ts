/**
 * Publishes a call's status, progress and result events to the events
 * stream. Every message has a deterministic Nats-Msg-Id, so a process that
 * takes over a call and publishes the same event again is deduplicated by
 * JetStream instead of reaching subscribers twice. A result is also
 * published on the condition that its subject holds nothing yet, so
 * JetStream refuses a second result however long after the first it comes
 * (the dedupe id alone holds only within the duplicate window).
 */
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import type { Telemetry } from '../runtime/telemetry.js';
import {
  type CallStatus,
  type Mode,
  type Names,
  type ProgressEvent,
  resultDedupeId,
  type ResultEvent,
  type StatusEvent,
} from '@mcpq/contract';
import type { ProtocolEra } from '../mcp/protocol-2026.js';

export interface StatusOptions {
  mode?: Mode | undefined;
  detail?: string | undefined;
  /** Dispatch attempt the status belongs to (part of its dedupe id). */
  attempt?: number | undefined;
  /** Makes the dedupe id unique when one attempt legitimately repeats a status. */
  key?: string | undefined;
  traceparent?: string | undefined;
  /** The call's MCP protocol revision (from its record). */
  protocol?: ProtocolEra | undefined;
  /** What the MCP server asks for (input_required); dropped when its JSON exceeds 16 KB. */
  inputRequests?: Record<string, unknown> | undefined;
}

/** Largest `inputRequests` a status event carries (a server's answer is not trusted to be small). */
const MAX_INPUT_REQUESTS_BYTES = 16 * 1024;

export interface PublishOutcome {
  /** False when JetStream dropped the message as a duplicate (or, for a result, as a second one). */
  stored: boolean;
}

/** Longest status detail or progress message published (they come from servers and errors; the full error is in the result). */
export const MAX_EVENT_TEXT_CHARS = 1024;

/** A text from a server as events and records keep it: at most MAX_EVENT_TEXT_CHARS, then `...`. */
export function clipEventText(text: string): string {
  return text.length > MAX_EVENT_TEXT_CHARS ? `${text.slice(0, MAX_EVENT_TEXT_CHARS)}...` : text;
}

export class CallEvents {
  constructor(
    private readonly js: JetStreamClient,
    private readonly n: Names,
    private readonly telemetry?: Telemetry,
  ) {}

  async status(callId: string, status: CallStatus, options: StatusOptions = {}): Promise<PublishOutcome> {
    const event: StatusEvent = { callId, status, at: new Date().toISOString() };
    if (options.mode) event.mode = options.mode;
    if (options.detail) event.detail = clipEventText(options.detail);
    if (options.attempt !== undefined) event.attempt = options.attempt;
    if (options.protocol) event.protocol = options.protocol;
    if (options.inputRequests && Buffer.byteLength(JSON.stringify(options.inputRequests)) <= MAX_INPUT_REQUESTS_BYTES) {
      event.inputRequests = options.inputRequests;
    }
    const id = `${callId}.s.${status}.${options.attempt ?? 0}${options.key ? `.${options.key}` : ''}`;
    return this.publish(this.n.call(callId, 'status'), event, id, options.traceparent);
  }

  /** `eventKey` is the SSE event id (or task status key) the progress came from. */
  async progress(event: ProgressEvent, eventKey: string, traceparent?: string): Promise<PublishOutcome> {
    if (event.message !== undefined && event.message.length > MAX_EVENT_TEXT_CHARS)
      event = { ...event, message: clipEventText(event.message) };
    return this.publish(this.n.call(event.callId, 'progress'), event, `${event.callId}.p.${eventKey}`, traceparent);
  }

  /** `call` names the server alias and tool for the metrics. */
  async result(event: ResultEvent, traceparent?: string, call?: { server: string; tool: string }): Promise<PublishOutcome> {
    const outcome = await this.publish(this.n.call(event.callId, 'result'), event, resultDedupeId(event.callId), traceparent, true);
    if (outcome.stored) {
      this.telemetry?.emit('call:finished', {
        callId: event.callId,
        server: call?.server,
        tool: call?.tool,
        isError: event.result?.isError === true,
        mode: event.mode,
        status: event.status,
        code: event.error?.code,
        durationMs: Date.parse(event.finishedAt) - Date.parse(event.startedAt),
      });
    }
    return outcome;
  }

  /** `first`: store only if the subject holds no message yet; a refusal counts as a duplicate. */
  private async publish(subject: string, body: unknown, msgID: string, traceparent?: string, first = false): Promise<PublishOutcome> {
    const h = natsHeaders();
    if (traceparent) h.set('traceparent', traceparent);
    // Set by hand: nats.js leaves out expect.lastSubjectSequence when it is 0. NATS 2.9.10 honours it (measured).
    if (first) h.set('Nats-Expected-Last-Subject-Sequence', '0');
    let ack;
    try {
      ack = await this.js.publish(subject, JSON.stringify(body), { msgID, headers: h });
    } catch (err) {
      if (!(first && err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence)) throw err;
      ack = { duplicate: true };
    }
    if (ack.duplicate) this.telemetry?.emit('event:duplicate', { kind: this.n.parseCallSubject(subject)?.kind ?? 'unknown' });
    return { stored: !ack.duplicate };
  }
}

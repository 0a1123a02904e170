/**
 * A call's arguments, where mcpq still has them. The call record does not
 * keep them (they may be large, and secret); the request lives on only in
 * the submit stream until a submitter takes it, and in the join message of
 * hold-mode and idempotent calls until the call ends (the joiner may have to
 * send it). Both streams are work queues, which take no second consumer: the
 * console reads them with bounded message gets instead. Values under keys
 * that name secrets are redacted, as in the logs.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { CallRequestSchema, JoinMessageSchema, type Names } from '@mcpq/shared';

export interface ArgumentsView {
  available: boolean;
  /** Where they were found, or why they are not shown. */
  source: string;
  arguments?: Record<string, unknown> | undefined;
}

/** Keys whose values never leave the console: the log redaction's keys, and their usual spellings. */
const SECRET_KEY =
  /^(headers|authorization|password|passwd|token|secret|cookie|api[-_]?key|access[-_]?token|refresh[-_]?token|client[-_]?secret|credentials?)$/i;
/** Stream positions looked at per stream, at most: a lookup stays quick however deep the queue is. */
const SCAN_LIMIT = 500;

export async function findArguments(jsm: JetStreamManager, n: Names, callId: string, server: string): Promise<ArgumentsView> {
  const join = await scan(jsm, n.streams.join, n.join(server), (json) => {
    const m = JoinMessageSchema.safeParse(json);
    return m.success && m.data.callId === callId ? (m.data.request?.arguments ?? (m.data.request ? {} : undefined)) : undefined;
  });
  if (join)
    return {
      available: true,
      source: 'the join message (hold-mode and idempotent calls keep their request until they end)',
      arguments: redact(join),
    };
  const queued = await scan(jsm, n.streams.submit, n.submit(server), (json) => {
    const m = CallRequestSchema.safeParse(json);
    return m.success && m.data.callId === callId ? (m.data.arguments ?? {}) : undefined;
  });
  if (queued) return { available: true, source: 'the submit queue (the call waits for a submitter)', arguments: redact(queued) };
  return {
    available: false,
    source:
      'not kept: mcpq stores a request only while it is queued, and in the join message of hold-mode and idempotent calls until they end',
  };
}

async function scan(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
  match: (json: unknown) => Record<string, unknown> | undefined,
): Promise<Record<string, unknown> | undefined> {
  let first: number;
  let last: number;
  try {
    ({ first_seq: first, last_seq: last } = (await jsm.streams.info(stream)).state);
  } catch {
    return undefined;
  }
  // Work queues take no extra consumer and these streams allow no direct get: read by sequence,
  // skipping the holes acknowledged messages leave, at most SCAN_LIMIT positions.
  for (let seq = first; seq <= last && seq < first + SCAN_LIMIT; seq++) {
    let m;
    try {
      m = await jsm.streams.getMessage(stream, { seq });
    } catch {
      continue; // deleted (acknowledged) in the meantime
    }
    if (!m || m.subject !== subject) continue;
    let json: unknown;
    try {
      json = m.json();
    } catch {
      continue;
    }
    const found = match(json);
    if (found) return found;
  }
  return undefined;
}

/** A copy with the values of secret-named keys replaced, at any depth (bounded). */
export function redact(value: Record<string, unknown>): Record<string, unknown> {
  return redactValue(value, 0) as Record<string, unknown>;
}

function redactValue(value: unknown, depth: number): unknown {
  if (depth > 32) return '[too deep]';
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) ? '[redacted]' : redactValue(v, depth + 1)]));
}

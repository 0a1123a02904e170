/**
 * Dead letters: a message mcpq could not turn into a call (or gave up on)
 * goes to `<prefix>.dlq.<reason>` with the reason, a stable code and the
 * original payload, so nothing is ever dropped silently. The DLQ stream keeps
 * them for `streams.dlqMaxAgeMs`.
 */
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { Names } from '../wire/names.js';
import type { DeadLetter } from '../wire/schemas.js';

export interface DeadLetterInput {
  /** Subject token after `<prefix>.dlq.`: `submit`, `join`, `exhausted`. */
  reason: string;
  code: string;
  message: string;
  msg: Pick<JsMsg, 'subject' | 'data' | 'headers' | 'seq'> & { info?: { deliveryCount: number; stream: string } };
  callId?: string | undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function buildDeadLetter(input: DeadLetterInput): DeadLetter {
  const { msg } = input;
  const letter: DeadLetter = {
    reason: input.reason,
    code: input.code,
    message: input.message,
    subject: msg.subject,
    deliveries: msg.info?.deliveryCount ?? 1,
    at: new Date().toISOString(),
  };
  if (input.callId) letter.callId = input.callId;
  try {
    letter.payload = utf8.decode(msg.data);
  } catch {
    letter.payloadBase64 = Buffer.from(msg.data).toString('base64');
  }
  if (msg.headers) {
    const headers: Record<string, string[]> = {};
    for (const [k, v] of msg.headers) headers[k] = v;
    letter.headers = headers;
  }
  if (msg.info) {
    letter.stream = msg.info.stream;
    letter.seq = msg.seq;
  }
  return letter;
}

/** Publishes a dead letter; deduplicated per original stream message, so a redelivery does not add a second one. */
export async function publishDeadLetter(js: JetStreamClient, n: Names, input: DeadLetterInput): Promise<DeadLetter> {
  const letter = buildDeadLetter(input);
  const msgID = letter.stream ? `dlq.${letter.stream}.${letter.seq}` : undefined;
  await js.publish(n.dlq(input.reason), JSON.stringify(letter), msgID ? { msgID } : {});
  return letter;
}

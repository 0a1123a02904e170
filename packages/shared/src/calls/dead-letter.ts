/**
 * Dead letters: a message mcpq could not turn into a call (or gave up on)
 * goes to `<prefix>.dlq.<reason>` with the reason, a stable code and the
 * original payload, so nothing is ever dropped silently. The DLQ stream keeps
 * them for `streams.dlqMaxAgeMs`.
 */
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { type DeadLetter, type Names } from '@mcpq/contract';
import { fitDeadLetter } from '../bounds/dead-letter.js';

/** NATS's default max_payload, when the server did not say. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

export interface DeadLetterInput {
  /** Subject token after `<prefix>.dlq.`: `submit`, `join`, `exhausted`. */
  reason: string;
  code: string;
  message: string;
  msg: Pick<JsMsg, 'subject' | 'data' | 'headers' | 'seq'> & { info?: { deliveryCount: number; stream: string } };
  callId?: string | undefined;
  /** The NATS server's max_payload (`nc.info.max_payload`): the letter is cut to fit it. */
  maxPayload?: number | undefined;
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

/**
 * Publishes a dead letter, cut to fit one NATS message (a payload near the
 * limit grows when embedded and escaped: a letter that cannot be published
 * would send its message round the redeliveries forever); deduplicated per
 * original stream message, so a redelivery does not add a second one.
 */
export async function publishDeadLetter(js: JetStreamClient, n: Names, input: DeadLetterInput): Promise<DeadLetter> {
  const letter = fitDeadLetter(buildDeadLetter(input), input.maxPayload ?? DEFAULT_MAX_PAYLOAD);
  const msgID = letter.stream ? `dlq.${letter.stream}.${letter.seq}` : undefined;
  await js.publish(n.dlq(input.reason), JSON.stringify(letter), msgID ? { msgID } : {});
  return letter;
}

/**
 * Making a dead letter fit one NATS message. A dead letter embeds the
 * original payload as a JSON string, where every quote, backslash and
 * control character grows when escaped: a submission near NATS's payload
 * limit makes a dead letter past it, JetStream refuses it, and the request
 * would loop through redeliveries. `fitDeadLetter` cuts the parts a sender
 * controls (message, headers, payload) until the letter fits, and says so.
 */
import type { DeadLetter } from '@mcpq/contract';
import { truncateForJson } from './json.js';

/** Room kept for the NATS headers (Nats-Msg-Id) and JetStream's framing. */
const HEADROOM_BYTES = 1024;
const MAX_MESSAGE_BYTES = 4 * 1024;
const MAX_HEADER_VALUE_BYTES = 1024;
const MAX_HEADERS = 32;

const size = (letter: DeadLetter) => Buffer.byteLength(JSON.stringify(letter));

/** `letter` as it is when it fits in `maxBytes`; otherwise a copy with the sender's parts cut (`payloadTruncated`). */
export function fitDeadLetter(letter: DeadLetter, maxBytes: number): DeadLetter {
  const limit = Math.max(2 * 1024, maxBytes - HEADROOM_BYTES);
  if (size(letter) <= limit) return letter;
  const out: DeadLetter = { ...letter, message: cut(letter.message, MAX_MESSAGE_BYTES) };
  if (letter.headers) {
    const headers: Record<string, string[]> = {};
    for (const [k, values] of Object.entries(letter.headers).slice(0, MAX_HEADERS)) {
      headers[cut(k, 256)] = values.slice(0, 4).map((v) => cut(v, MAX_HEADER_VALUE_BYTES));
    }
    out.headers = headers;
  }
  const original = letter.payload ?? letter.payloadBase64;
  if (original === undefined) return out;
  delete out.payload;
  delete out.payloadBase64;
  out.payloadTruncated = true;
  out.payloadBytes = letter.payload !== undefined ? Buffer.byteLength(letter.payload) : Math.floor((original.length * 3) / 4);
  const room = limit - size(out) - 32;
  if (room <= 0) return out;
  if (letter.payload !== undefined) out.payload = truncateForJson(letter.payload, room).slice(0);
  else out.payloadBase64 = original.slice(0, Math.floor((room - 2) / 4) * 4);
  return out;
}

function cut(text: string, maxBytes: number): string {
  const short = truncateForJson(text, maxBytes);
  return short === text ? text : `${short.slice(0, Math.max(0, short.length - 3))}...`;
}

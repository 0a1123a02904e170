/**
 * Bounding an error before it is stored or published. A server may answer
 * with a JSON-RPC error of megabytes (or nested past any stack); a call
 * record or a result holding it would not fit a NATS message, so every write
 * would fail and the call would never end. The code always survives; the
 * message is cut; `data` keeps its small top-level fields and says what was
 * left out.
 */
import type { WireError } from '@mcpq/contract';
import { DEFAULT_MAX_JSON_DEPTH, measureJson, truncateForJson } from './json.js';

/** Largest error kept in a record or a result when no other limit is given (`limits.maxErrorBytes`). */
export const DEFAULT_MAX_ERROR_BYTES = 16 * 1024;

/** A top-level field of `data` larger than this is left out of a bounded error. */
const MAX_KEPT_FIELD_BYTES = 1024;

/** `error` as it is, when it fits in `maxBytes` of JSON; otherwise a smaller copy that does. */
export function boundWireError(error: WireError, maxBytes: number = DEFAULT_MAX_ERROR_BYTES): WireError {
  const whole = measureJson(error, DEFAULT_MAX_JSON_DEPTH);
  if (whole.ok && whole.bytes <= maxBytes) return error;
  const messageRoom = Math.max(64, Math.floor(maxBytes / 2));
  const cut = truncateForJson(error.message, messageRoom - 32);
  const out: WireError = { code: error.code, message: cut === error.message ? cut : `${cut}... (cut to fit limits.maxErrorBytes)` };
  if (error.data === undefined) return out;
  const data = measureJson(error.data, DEFAULT_MAX_JSON_DEPTH);
  const dataRoom = maxBytes - Buffer.byteLength(JSON.stringify(out)) - 64;
  if (data.ok && data.bytes <= dataRoom) return { ...out, data: error.data };
  out.data = shrinkData(error.data, data.ok ? data.bytes : undefined, dataRoom);
  return out;
}

/** The small top-level fields of `data` (e.g. jsonrpcCode, httpStatus), and a note of what was left out. */
function shrinkData(data: unknown, bytes: number | undefined, room: number): Record<string, unknown> {
  const note: Record<string, unknown> = { truncated: true, ...(bytes !== undefined ? { bytes } : { reason: 'nested too deep' }) };
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return note;
  let used = Buffer.byteLength(JSON.stringify(note)) + 32;
  const omitted: string[] = [];
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    const m = measureJson(value, 8);
    const cost = m.ok ? m.bytes + Buffer.byteLength(JSON.stringify(key)) + 2 : Number.POSITIVE_INFINITY;
    if (cost <= MAX_KEPT_FIELD_BYTES && used + cost <= room && !(key in note)) {
      note[key] = value;
      used += cost;
    } else if (omitted.length < 32) {
      omitted.push(key.length > 64 ? `${key.slice(0, 64)}...` : key);
    }
  }
  if (omitted.length > 0) note.omitted = omitted;
  return note;
}

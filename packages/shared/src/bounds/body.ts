/**
 * Reading an HTTP body with a cap. A server (or anything between) that sends
 * gigabytes would fill the heap if a body were read whole; these readers
 * stop at the cap and drop the rest of the body (its connection closes).
 * The cap counts the bytes as they arrive (no content encoding is asked for).
 */
import type { Readable } from 'node:stream';
import { ErrorCode, McpqError } from '@mcpq/contract';

/** How much of an error answer's body is read (it only goes into an error message). */
export const ERROR_BODY_BYTES = 4 * 1024;

/** The whole body as text; fails with `response_too_large` past `maxBytes`. */
export async function readBodyCapped(body: Readable, maxBytes: number, what: string): Promise<string> {
  const { text, complete, bytes } = await readUpTo(body, maxBytes);
  if (!complete) {
    throw new McpqError(ErrorCode.response_too_large, `${what}: the answer is larger than ${maxBytes} bytes (limits.maxResponseBytes)`, {
      data: { limit: maxBytes, bytesRead: bytes },
    });
  }
  return text;
}

/** At most `maxBytes` of the body as text (for error messages); the rest is dropped. Never throws. */
export async function readBodyPrefix(body: Readable, maxBytes: number = ERROR_BODY_BYTES): Promise<string> {
  try {
    const { text, complete } = await readUpTo(body, maxBytes);
    return complete ? text : `${text}...`;
  } catch {
    return '';
  }
}

/**
 * Reads up to `maxBytes`: to the end of the body (so that a keep-alive
 * connection can be reused), or to the cap (then the body is destroyed).
 * Fails when the body fails or closes before its end (a cut connection, an
 * abort: with its reason).
 */
function readUpTo(body: Readable, maxBytes: number): Promise<{ text: string; complete: boolean; bytes: number }> {
  return new Promise((resolve, reject) => {
    if (body.readableEnded) return resolve({ text: '', complete: true, bytes: 0 });
    if (body.destroyed) return reject(body.errored ?? new Error('the body closed before its end'));
    const chunks: Buffer[] = [];
    let bytes = 0;
    const settle = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      chunks.push(chunk.subarray(0, chunk.length - (bytes - maxBytes)));
      settle();
      body.destroy();
      resolve({ text: Buffer.concat(chunks).toString('utf8'), complete: false, bytes });
    };
    const onEnd = (): void => {
      settle();
      resolve({ text: Buffer.concat(chunks).toString('utf8'), complete: true, bytes });
    };
    const onError = (err: Error): void => {
      settle();
      reject(err);
    };
    const onClose = (): void => {
      settle();
      reject(body.errored ?? new Error('the body closed before its end'));
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.once('close', onClose);
  });
}

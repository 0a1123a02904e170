import { describe, expect, it } from 'vitest';
import { TimeoutError } from '@nats-io/nats-core';
import { isNatsError, McpqError } from '@mcpq/shared';

describe('isNatsError', () => {
  it("tells mcpq's own infrastructure failing from everything else", () => {
    expect(isNatsError(new TimeoutError())).toBe(true);
    // nats.js's "jetstream is not enabled" for a stream not loaded yet after a restart
    expect(isNatsError(Object.assign(new Error('jetstream is not enabled'), { name: 'JetStreamNotEnabled' }))).toBe(true);
    expect(isNatsError(new Error('wrapped', { cause: new TimeoutError() }))).toBe(true);
    expect(isNatsError(new McpqError('server_unreachable', 'connection refused'))).toBe(false);
    expect(isNatsError(new TypeError('fetch failed'))).toBe(false);
  });
});

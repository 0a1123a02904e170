/**
 * A service answers only on a reply inbox: never on a subject mcpq or
 * JetStream owns, whatever reply subject a requester names.
 */
import { describe, expect, it } from 'vitest';
import { isReplyInbox } from '@mcpq/shared';

describe('isReplyInbox', () => {
  it('accepts the inboxes of nats clients and of replies through an account import', () => {
    expect(isReplyInbox('_INBOX.abc123.1')).toBe(true);
    expect(isReplyInbox('_R_.Xg8rN9.HCnyAX')).toBe(true);
  });

  it('accepts the configured inbox prefix, and only when it is configured', () => {
    expect(isReplyInbox('_INBOX_alice.x1', '_INBOX_alice')).toBe(true);
    expect(isReplyInbox('_INBOX_alice.x1')).toBe(false);
  });

  it('refuses subjects mcpq or JetStream own, and malformed subjects', () => {
    for (const subject of [
      '$KV.mcpq_calls.victim',
      'mcpq.ctl.cancel.victim',
      'mcpq.call.victim.result',
      'mcpq.join.demo',
      '$JS.API.STREAM.PURGE.MCPQ_EVENTS',
      '$JS.ACK.MCPQ_JOIN.joiner.1.2.3.4.5',
      '_INBOX',
      '_INBOX.',
      '_INBOX..x',
      '_INBOX.*',
      '_INBOX.>',
      '_INBOXES.x',
      '',
      undefined,
    ]) {
      expect(isReplyInbox(subject), String(subject)).toBe(false);
    }
  });
});

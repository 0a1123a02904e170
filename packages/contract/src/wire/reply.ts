/**
 * Where a service may send an answer. NATS lets a requester name any reply
 * subject, and permissions cannot restrict it; an answer sent there blindly
 * would let a caller make mcpq write a call record, a control message or a
 * result (`$KV.<prefix>_calls.<id>`, `<prefix>.ctl.>`, `<prefix>.call.>`).
 * So a service answers only on a reply inbox: `_INBOX.` (nats clients'
 * default), `_R_.` (a reply that crossed an account import) or the inbox
 * prefix the deployment configured (`nats.inboxPrefix`).
 */

/** Reply-subject prefixes every deployment accepts. */
export const REPLY_INBOX_PREFIXES = ['_INBOX.', '_R_.'] as const;

/**
 * True when `subject` is a reply inbox a service may answer on: it starts
 * with one of the inbox prefixes (plus `inboxPrefix`, when configured) and is
 * a valid subject with at least one token after the prefix.
 */
export function isReplyInbox(subject: string | undefined, inboxPrefix?: string): subject is string {
  if (!subject || /[\s*>]/.test(subject) || subject.split('.').some((t) => t.length === 0)) return false;
  const prefixes: string[] = [...REPLY_INBOX_PREFIXES];
  if (inboxPrefix) prefixes.push(`${inboxPrefix.replace(/\.$/, '')}.`);
  return prefixes.some((p) => subject.startsWith(p) && subject.length > p.length);
}

/**
 * Bearer-token access for mcpq's HTTP faces (the gateway and the console):
 * one list of tokens in the config (`gateway.tokens`), each acting for one
 * tenant, optionally read-only. Tokens are compared in constant time and
 * never logged; without tokens a face serves loopback only.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type AccessToken, resolveSecret } from '@mcpq/contract';

/** Who a request acts for. */
export interface Principal {
  tenant: string;
  readOnly: boolean;
  /** Sees and acts on every tenant's calls (an operator, or anyone when no tokens are configured). */
  admin: boolean;
}

/** The principal of a request when no tokens are configured (loopback only). */
export const LOCAL_PRINCIPAL: Principal = Object.freeze({ tenant: 'default', readOnly: false, admin: true });

export class BearerTokens {
  private readonly tokens: Array<{ digest: Buffer; principal: Principal }>;

  constructor(tokens: readonly AccessToken[], env: NodeJS.ProcessEnv = process.env) {
    this.tokens = tokens.map((t, i) => ({
      digest: digest(resolveSecret(t.token, env, `gateway.tokens.${i}.token`)),
      principal: { tenant: t.tenant, readOnly: t.readOnly, admin: t.admin },
    }));
  }

  /** True when the config names tokens, so every request must carry one. */
  get required(): boolean {
    return this.tokens.length > 0;
  }

  /**
   * The principal for an `Authorization` header value; undefined when tokens
   * are required and the header is missing or names no configured token.
   */
  authenticate(authorization: string | undefined | null): Principal | undefined {
    if (!this.required) return LOCAL_PRINCIPAL;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) return undefined;
    const given = digest(match[1]!);
    // Compare against every token (no early exit) so timing says nothing about which one matched.
    let found: Principal | undefined;
    for (const t of this.tokens) if (timingSafeEqual(t.digest, given)) found ??= t.principal;
    return found;
  }
}

/** Fixed-length digests make the comparison constant-time whatever the token lengths. */
function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** True for addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Call ids minted for a tenant start with a tag derived from the tenant
 * name, so any process (any gateway replica, the console) tells whose a call
 * is from its id alone, and another tenant's id is simply "not found".
 */
export function tenantTag(tenant: string): string {
  return `t${createHash('sha256').update(`mcpq-tenant:${tenant}`).digest('hex').slice(0, 12)}`;
}

/** A new call id for `tenant`: its tag, then 128 random bits. */
export function newTenantCallId(tenant: string): string {
  return `${tenantTag(tenant)}-${randomBytes(16).toString('base64url')}`;
}

/** Whether `principal` may see and act on the call `callId`. */
export function mayAccessCall(principal: Principal, callId: string): boolean {
  return principal.admin || callId.startsWith(`${tenantTag(principal.tenant)}-`);
}

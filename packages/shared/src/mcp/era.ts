/**
 * Which protocol era a server speaks, found once per endpoint and cached:
 * `server/discover` with the 2026-07-28 envelope; a 200 listing 2026-07-28 in
 * `supportedVersions`, or a 400 carrying
 * -32020/-32021/-32022, means a 2026-07-28 server (unless its -32022 lists
 * only older versions); any other answer means a 2025-11-25 server (SDK 1.x
 * answers the probe with HTTP 400 and -32000). An unreachable server is an
 * error, not an era: nothing is cached. Spec: basic/versioning.mdx
 * ("Backward compatibility"), server/discover.mdx.
 */
import { ErrorCode, McpqError } from '@mcpq/contract';
import type { McpHttpClient } from './http-client.js';
import {
  clientCapabilities,
  JsonRpcCode2026,
  LEGACY_PROTOCOL_VERSION,
  MODERN_PROTOCOL_VERSION,
  modernErrorCodeOf,
  routingHeaders,
  SERVER_INFO_META_KEY,
  TASKS_EXTENSION,
  withEnvelope,
  type ProtocolEra,
} from './protocol-2026.js';
import { MODERN_SESSION } from './modern-client.js';
import { SUPPORTED_PROTOCOL_VERSIONS } from './http-client.js';
import { isJsonObject } from './jsonrpc.js';

/** What `server/discover` told about a 2026-07-28 server. */
export interface DiscoverInfo {
  supportedVersions: string[];
  capabilities: Record<string, unknown>;
  serverInfo: { name?: string; version?: string };
  /** The server offers the tasks extension (`capabilities.extensions["io.modelcontextprotocol/tasks"]`). */
  tasks: boolean;
}

export type Era =
  | {
      protocol: Extract<ProtocolEra, '2026-07-28'>;
      /** Absent when the probe was refused with a 2026 error. */ discover?: DiscoverInfo | undefined;
    }
  | { protocol: Extract<ProtocolEra, '2025-11-25'>; /** Why the probe said legacy (for logs). */ reason: string };

/** Probes `client`'s endpoint once. Throws server_unreachable (and other non-era failures) unchanged. */
export async function probeEra(client: McpHttpClient, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Era> {
  const method = 'server/discover';
  try {
    const result = await client.request(MODERN_SESSION, method, withEnvelope({}, clientCapabilities(true)), {
      ...options,
      headers: routingHeaders(method, undefined),
    });
    const discover = discoverInfo(result);
    // A real server/discover lists the versions it serves. A 200 without 2026-07-28 among them comes from a
    // server that answers every request alike (the conformance suite's legacy scenario servers do): not modern.
    if (!discover.supportedVersions.includes(MODERN_PROTOCOL_VERSION)) {
      return {
        protocol: LEGACY_PROTOCOL_VERSION,
        reason: `server/discover answered without ${MODERN_PROTOCOL_VERSION} among supportedVersions (${discover.supportedVersions.join(', ') || 'none'})`,
      };
    }
    return { protocol: MODERN_PROTOCOL_VERSION, discover };
  } catch (err) {
    const code = modernErrorCodeOf(err);
    if (code === JsonRpcCode2026.unsupportedProtocolVersion) return fromUnsupported(err as McpqError);
    if (code !== undefined) return { protocol: MODERN_PROTOCOL_VERSION };
    if (!(err instanceof McpqError) || err.code === ErrorCode.server_unreachable) throw err;
    return { protocol: LEGACY_PROTOCOL_VERSION, reason: err.message };
  }
}

/** -32022: modern, but maybe it serves only 2025 versions on this endpoint, or nothing mcpq speaks. */
function fromUnsupported(err: McpqError): Era {
  const data = (err.data as { data?: { supported?: unknown } } | undefined)?.data;
  const supported = Array.isArray(data?.supported) ? data.supported.filter((v): v is string => typeof v === 'string') : [];
  const legacy = supported.find((v) => SUPPORTED_PROTOCOL_VERSIONS.includes(v));
  if (legacy) return { protocol: LEGACY_PROTOCOL_VERSION, reason: `server/discover: the server serves ${supported.join(', ')}` };
  throw err;
}

function discoverInfo(result: Record<string, unknown>): DiscoverInfo {
  const capabilities = isJsonObject(result.capabilities) ? result.capabilities : {};
  const extensions = isJsonObject(capabilities.extensions) ? capabilities.extensions : {};
  return {
    supportedVersions: Array.isArray(result.supportedVersions)
      ? result.supportedVersions.filter((v): v is string => typeof v === 'string')
      : [],
    capabilities,
    serverInfo: serverInfoOf(result),
    tasks: extensions[TASKS_EXTENSION] !== undefined,
  };
}

/** The server's name and version: `serverInfo` in the result, else in its `_meta` (where the official SDK 2.x sends it). */
function serverInfoOf(result: Record<string, unknown>): DiscoverInfo['serverInfo'] {
  if (isJsonObject(result.serverInfo)) return result.serverInfo as DiscoverInfo['serverInfo'];
  const inMeta = isJsonObject(result._meta) ? result._meta[SERVER_INFO_META_KEY] : undefined;
  return isJsonObject(inMeta) ? (inMeta as DiscoverInfo['serverInfo']) : {};
}

/**
 * Whether a failure on a server of era `era` suggests the server changed
 * era (it was replaced or upgraded), so the era should be probed again:
 * a 2025 server answering with a 2026 error code, or a 2026 server saying
 * it no longer serves 2026-07-28 or answering a 400/404 that is not JSON-RPC.
 */
export function suggestsEraChange(era: Era, err: unknown): boolean {
  const code = modernErrorCodeOf(err);
  if (era.protocol === LEGACY_PROTOCOL_VERSION) return code !== undefined;
  if (code === JsonRpcCode2026.unsupportedProtocolVersion) return true;
  if (!(err instanceof McpqError) || !isJsonObject(err.data)) return false;
  const status = err.data.httpStatus;
  return (status === 400 || status === 404) && err.data.jsonrpcCode === undefined;
}

/** The era of each endpoint (by URL), probed once even under concurrency; `forget` makes the next `get` probe again. */
export class EraCache {
  private readonly eras = new Map<string, Promise<Era>>();

  get(client: McpHttpClient): Promise<Era> {
    const url = client.endpoint.url;
    let era = this.eras.get(url);
    if (!era) {
      era = probeEra(client);
      this.eras.set(url, era);
      // A failed probe is not an answer: the next caller probes again.
      era.catch(() => {
        if (this.eras.get(url) === era) this.eras.delete(url);
      });
    }
    return era;
  }

  forget(url: string): void {
    this.eras.delete(url);
  }
}

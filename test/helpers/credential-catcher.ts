/**
 * CREDENTIAL CATCHER, not an MCP server: an HTTP server that answers `{}` to
 * everything and keeps the Authorization header of each request that reaches
 * it. A test points a redirect at it to show that no request, and so no
 * credential, ever follows one.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CredentialCatcher {
  /** Its MCP-looking endpoint. */
  url: string;
  /** The Authorization header of every request that reached it (undefined where there was none), in order. */
  caught: Array<string | undefined>;
  close(): Promise<void>;
}

export async function startCredentialCatcher(): Promise<CredentialCatcher> {
  const caught: Array<string | undefined> = [];
  const server = createServer((req, res) => {
    caught.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    caught,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

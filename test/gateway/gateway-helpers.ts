/** An MCP host for gateway tests: the official SDK 1.x Client over Streamable HTTP, optionally with a bearer token. */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export async function connectHost(url: string, token?: string): Promise<Client> {
  const client = new Client({ name: 'gateway-test-host', version: '1.0.0' }, { capabilities: { tasks: { requests: {} } } });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    ...(token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {}),
  });
  await client.connect(transport);
  return client;
}

/** The text of a CallToolResult's first content item. */
export function firstText(result: object): string | undefined {
  const first = ((result as { content?: unknown }).content as Array<{ type: string; text?: string }> | undefined)?.[0];
  return first?.type === 'text' ? first.text : undefined;
}

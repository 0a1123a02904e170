/** How mcpq names itself to MCP servers (initialize's clientInfo; 2026-07-28's per-request clientInfo). */
export const CLIENT_INFO = { name: 'mcpq', version: '0.1.0' } as const;

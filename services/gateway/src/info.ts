/** What the gateway says about itself to MCP hosts. */
export const GATEWAY_INFO = { name: 'mcpq-gateway', version: '0.1.0' };

export const GATEWAY_INSTRUCTIONS =
  'Tools of several MCP servers, called through mcpq (a durable queue): each tool is named <server>__<tool>. ' +
  'Calls survive crashes of the workers that run them; call a tool as a task to get a task id you can poll, ' +
  'fetch the result of, or cancel later, from any session.';

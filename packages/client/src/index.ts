/** @mcpq/client: submit MCP tool calls to mcpq and follow them. */
export {
  McpqClient,
  newCallId,
  toCallInfo,
  type CallEvent,
  type CallInfo,
  type CallOptions,
  type CallPage,
  type ListOptions,
  type ConnectOptions,
  type McpqClientOptions,
  type SubmitOptions,
  type WaitOptions,
} from './client.js';
export { scanRecords, type RecordSource, type ScanOptions, type ScanOrder, type ScanPage, type ScannedRecord } from './record-scan.js';
export { ExitCode } from './cli/exit-codes.js';
export { ErrorCode, McpqError, isMcpqError, type ResultEvent, type ProgressEvent, type StatusEvent } from '@mcpq/contract';
export { readDeadLetters, replayDeadLetter, type ReplayOutcome } from './cli/admin-commands.js';

/**
 * Checks a call's arguments against the tool's `inputSchema` before the call
 * is sent, so a caller gets `invalid_arguments` with the reason instead of a
 * tool error from the server (the SDK's McpServer reports invalid arguments
 * as a CallToolResult with isError). A schema mcpq cannot compile is not
 * enforced: the server stays the judge then.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Logger, ToolInfo } from '@mcpq/shared';

// ajv-formats is CommonJS: its default export is the function.
const addFormats = addFormatsModule as unknown as (ajv: Ajv | Ajv2020) => void;

export class ArgumentValidator {
  private readonly draft7 = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  private readonly draft2020 = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  private readonly compiled = new WeakMap<ToolInfo, ValidateFunction | null>();

  constructor(private readonly logger: Logger) {
    addFormats(this.draft7);
    addFormats(this.draft2020);
  }

  /** A message describing what is wrong with `args`, or undefined when they fit (or cannot be checked). */
  check(tool: ToolInfo, args: Record<string, unknown>): string | undefined {
    const validate = this.validator(tool);
    if (!validate || validate(args)) return undefined;
    return (validate.errors ?? [])
      .slice(0, 5)
      .map((e) => `${e.instancePath || '(arguments)'} ${e.message ?? 'is invalid'}`)
      .join('; ');
  }

  private validator(tool: ToolInfo): ValidateFunction | null {
    const cached = this.compiled.get(tool);
    if (cached !== undefined) return cached;
    let fn: ValidateFunction | null = null;
    if (tool.inputSchema && typeof tool.inputSchema === 'object') {
      const schema = { ...tool.inputSchema };
      const uses2020 = typeof schema.$schema === 'string' && schema.$schema.includes('2020-12');
      delete schema.$schema;
      try {
        fn = (uses2020 ? this.draft2020 : this.draft7).compile(schema);
      } catch (err) {
        this.logger.warn(
          { tool: tool.name, err: (err as Error).message },
          'cannot compile the tool inputSchema; arguments are not checked',
        );
      }
    }
    this.compiled.set(tool, fn);
    return fn;
  }
}

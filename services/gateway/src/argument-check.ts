/**
 * Checks a call's arguments against the tool's `inputSchema` before it is
 * queued, so a host gets `invalid_arguments` at once — also for a task, which
 * would otherwise be created only to fail. The SDK's own JSON Schema
 * validator does the checking; a schema it cannot compile is not enforced
 * (the submitter and the server stay the judges then).
 */
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { JsonSchemaType, JsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';

/** Compiled validators kept at most (by schema text: catalog reads give new objects each time, and ajv keeps what it compiles). */
const MAX_CACHED = 500;

export class ArgumentCheck {
  private readonly validator = new AjvJsonSchemaValidator();
  private readonly compiled = new Map<string, JsonSchemaValidator<unknown> | null>();

  /** What is wrong with `args`, or undefined when they fit (or the schema cannot be checked). */
  problem(inputSchema: Record<string, unknown> | undefined, args: Record<string, unknown>): string | undefined {
    if (!inputSchema) return undefined;
    const validate = this.compile(inputSchema);
    if (!validate) return undefined;
    const outcome = validate(args);
    return outcome.valid ? undefined : outcome.errorMessage;
  }

  private compile(inputSchema: Record<string, unknown>): JsonSchemaValidator<unknown> | null {
    const { $schema: _dialect, ...schema } = inputSchema; // the dialect is not ajv's business here: draft-07 and 2020-12 read alike for arguments
    const key = JSON.stringify(schema);
    let fn = this.compiled.get(key);
    if (fn === undefined) {
      try {
        fn = this.validator.getValidator(schema as JsonSchemaType);
      } catch {
        fn = null;
      }
      if (this.compiled.size >= MAX_CACHED) this.compiled.clear();
      this.compiled.set(key, fn);
    }
    return fn;
  }
}

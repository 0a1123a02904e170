/**
 * The commands that reach into the services (`provision`, `servers`, `dev`)
 * load `@mcpq/shared` on first use, so the published `@mcpq/client` stays
 * light: no logger, metrics, MCP client or provisioning code comes with it.
 * In the mcpq repository and the container image the services are there;
 * installed from npm they are not, and these commands say so.
 */
import { UsageError } from './args.js';

export type Services = typeof import('@mcpq/shared');

export async function loadServices(command: string): Promise<Services> {
  try {
    return await import('@mcpq/shared');
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new UsageError(
      `mcpq ${command} needs the mcpq services (@mcpq/shared), which the published @mcpq/client does not include: ` +
        `run it from the mcpq repository (pnpm mcpq ${command}) or in the mcpq container image`,
    );
  }
}

/**
 * docker-compose.yml cannot run here (no Docker engine), so it is checked
 * for what it must contain: the same system as `mcpq dev`. Where a compose
 * binary exists, it must also accept the file.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigSchema, SERVICE_NODE_FLAGS } from '@mcpq/shared';

const root = fileURLToPath(new URL('../../', import.meta.url));
const composeCommand = (
  [
    ['docker', ['compose']],
    ['docker-compose', []],
  ] as Array<[string, string[]]>
).find(([cmd, args]) => spawnSync(cmd, [...args, 'version'], { encoding: 'utf8' }).status === 0);
const compose = parse(readFileSync(`${root}docker-compose.yml`, 'utf8'), { merge: true }) as {
  services: Record<
    string,
    {
      image?: string;
      command?: string[];
      entrypoint?: string[];
      environment?: Record<string, string>;
      volumes?: string[];
      deploy?: { replicas?: number };
    }
  >;
  volumes?: Record<string, unknown>;
};

describe('docker-compose.yml', () => {
  it('runs NATS 2.12 with JetStream on a volume, the example MCP server, a submitter and several joiners', () => {
    const { nats, submitter, joiner } = compose.services;
    expect(nats?.image).toMatch(/^nats:2\.12/);
    expect(nats?.command).toContain('-js');
    const storeDir = nats!.command![nats!.command!.indexOf('-sd') + 1];
    expect(nats?.volumes?.some((v) => v.endsWith(`:${storeDir}`))).toBe(true);
    expect(compose.services['mcp-server']?.command).toContain('examples/mcp-server/dist/main.js');
    // With the Node flags each service ships with (one home: SERVICE_NODE_FLAGS).
    expect(submitter?.command).toEqual(['node', ...SERVICE_NODE_FLAGS.submitter, 'services/submitter/dist/main.js']);
    expect(joiner?.command).toEqual(['node', ...SERVICE_NODE_FLAGS.joiner, 'services/joiner/dist/main.js']);
    expect(joiner?.deploy?.replicas).toBeGreaterThanOrEqual(2);
  });

  it('gives the services a valid mcpq config that points at the example server', () => {
    const env = compose.services.joiner!.environment!;
    expect(env.NATS_URL).toBe('nats://nats:4222');
    const config = ConfigSchema.parse(JSON.parse(env.MCPQ_CONFIG_JSON!));
    expect(config.servers.demo?.url).toBe('http://mcp-server:3000/mcp');
  });

  // Where no compose binary exists this is reported as skipped, never as passed.
  it.runIf(composeCommand !== undefined)('is accepted by `compose config`', () => {
    const [cmd, args] = composeCommand!;
    const r = spawnSync(cmd, [...args, '-f', `${root}docker-compose.yml`, 'config', '-q'], { encoding: 'utf8' });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  });
});

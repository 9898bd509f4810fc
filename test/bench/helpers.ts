// Runs one benchmark server and the load generator against it, as the runner does, for the tests.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Child } from '../../bench/lib/proc.js';
import type { GenConfig, GenResult, GenToRunner, ServerToRunner } from '../../bench/lib/types.js';

const BENCH = resolve(dirname(fileURLToPath(import.meta.url)), '../../bench');

/** A generator config with small defaults, for a server on `port`. */
export function genConfig(port: number, overrides: Partial<GenConfig>): GenConfig {
  const base: GenConfig = {
    kind: 'echo',
    host: '127.0.0.1',
    port,
    proc: 0,
    procs: 1,
    connections: 20,
    totalConnections: 20,
    payloadSize: 64,
    binary: false,
    deflate: false,
    inflight: 1,
    concurrency: 8,
    localAddresses: [],
    traffic: 0,
    rate: 0,
    rooms: 1,
    protocol: 'v1',
    warmupMs: 0,
    measureMs: 300,
    ...overrides,
  };
  base.totalConnections = base.connections;
  return base;
}

/** Starts `servers/<script> args`, runs the generator with `overrides` against it, stops both. */
export async function runGenerator(
  script: string,
  args: string[],
  overrides: Partial<GenConfig>,
): Promise<{ verified: string; connections: number; result: GenResult }> {
  const server = Child.fork<ServerToRunner>(script, join(BENCH, 'servers', script), args);
  const gen = Child.fork<GenToRunner>('generator', join(BENCH, 'loadgen.js'), []);
  try {
    const ready = await Promise.race([server.next('ready', 20_000), server.died]);
    gen.send({ cmd: 'run', config: genConfig(ready.port, overrides) });
    if (overrides.kind === 'idle') {
      await Promise.race([gen.next('warmed', 30_000), gen.died, server.died]);
      gen.send({ cmd: 'proceed' });
    }
    const connected = await Promise.race([gen.next('connected', 30_000), gen.died, server.died]);
    gen.send({ cmd: 'go' });
    const { result } = await Promise.race([gen.next('result', 30_000), gen.died, server.died]);
    return { verified: connected.verified, connections: connected.connections, result };
  } finally {
    await gen.stop();
    await server.stop();
  }
}

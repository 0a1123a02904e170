/**
 * A fault injector for NATS (a TCP proxy, not a NATS server): clients that
 * connect through it talk to the real nats-server until one publishes a
 * message `trip` picks. That message is passed on whole, then the
 * connection is cut before anything more from the server reaches the
 * client: the write is applied, its acknowledgement is lost. With
 * `{ lose: true }` the message is not passed on: the connection dies with
 * the write on its way, and the write is never applied. Either way the
 * client reconnects (through the proxy, which then lets everything through)
 * and sees only a request that timed out. Trips once.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type TripRule = (subject: string, payload: string) => boolean;

export interface CutOptions {
  /** Drop the tripping message instead of passing it on (default false: it reaches the server). */
  lose?: boolean;
}

export class NatsCutProxy {
  /** Connections cut so far (0 or 1). */
  cuts = 0;

  private constructor(
    private readonly proxy: TcpProxy,
    private readonly trip: TripRule,
    private readonly lose: boolean,
  ) {}

  get url(): string {
    return this.proxy.url;
  }

  static async start(natsUrl: string, trip: TripRule, options: CutOptions = {}): Promise<NatsCutProxy> {
    let cutter: NatsCutProxy | undefined;
    const proxy = await startTcpProxy(natsUrl, (client, upstream) => cutter!.wire(client, upstream));
    cutter = new NatsCutProxy(proxy, trip, options.lose ?? false);
    return cutter;
  }

  close(): Promise<void> {
    return this.proxy.close();
  }

  private wire(client: Socket, upstream: Socket): void {
    let cut = false;
    let pending = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      if (!cut) client.write(chunk);
    });
    client.on('data', (chunk: Buffer) => {
      if (cut) return;
      pending = Buffer.concat([pending, chunk]);
      // Pass on whole protocol operations only, so the tripping message is known to be complete when cut after.
      for (;;) {
        const op = nextOperation(pending);
        if (!op) return;
        const trips = this.cuts === 0 && op.message !== undefined && this.trip(op.message.subject, op.message.payload);
        if (!(trips && this.lose)) upstream.write(pending.subarray(0, op.length));
        pending = pending.subarray(op.length);
        if (trips) {
          this.cuts++;
          cut = true;
          upstream.end(); // what was passed on, the message included unless lost, is flushed to the server before the close
          client.destroy();
          return;
        }
      }
    });
  }
}

/** A TCP proxy in front of a nats-server: each client's socket gets its own upstream one, wired by `wire`. */
export interface TcpProxy {
  url: string;
  close(): Promise<void>;
}

/**
 * Listens on a random local port; for each client, connects to the nats-server at `natsUrl` and
 * hands both sockets to `wire` (which moves the bytes). Either side closing closes both.
 */
export async function startTcpProxy(natsUrl: string, wire: (client: Socket, upstream: Socket) => void): Promise<TcpProxy> {
  const u = new URL(natsUrl.replace(/^nats:/, 'http:'));
  const target = { host: u.hostname, port: Number(u.port) };
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target);
    sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on('close', end).on('error', end);
    client.on('close', end).on('error', end);
    wire(client, upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('nats proxy: no port');
  return {
    url: `nats://127.0.0.1:${address.port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The first complete protocol operation in `buf` (its length, and its subject and payload for PUB/HPUB), or undefined. */
export function nextOperation(buf: Buffer): { length: number; message?: { subject: string; payload: string } } | undefined {
  const eol = buf.indexOf('\r\n');
  if (eol < 0) return undefined;
  const line = buf.subarray(0, eol).toString('latin1');
  const parts = line.split(' ').filter((p) => p.length > 0);
  const op = parts[0]?.toUpperCase();
  if (op !== 'PUB' && op !== 'HPUB') return { length: eol + 2 };
  const total = Number(parts[parts.length - 1]);
  const headerBytes = op === 'HPUB' ? Number(parts[parts.length - 2]) : 0;
  const length = eol + 2 + total + 2;
  if (buf.length < length) return undefined;
  const payload = buf.subarray(eol + 2 + headerBytes, eol + 2 + total).toString('utf8');
  return { length, message: { subject: parts[1]!, payload } };
}

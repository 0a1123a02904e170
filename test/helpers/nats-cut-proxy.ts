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
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly trip: TripRule,
    private readonly target: { host: string; port: number },
    private readonly lose: boolean,
  ) {}

  static async start(natsUrl: string, trip: TripRule, options: CutOptions = {}): Promise<NatsCutProxy> {
    const u = new URL(natsUrl.replace(/^nats:/, 'http:'));
    const target = { host: u.hostname, port: Number(u.port) };
    let proxy: NatsCutProxy | undefined;
    const server = createServer((client) => proxy!.accept(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('NatsCutProxy: no port');
    proxy = new NatsCutProxy(server, `nats://127.0.0.1:${address.port}`, trip, target, options.lose ?? false);
    return proxy;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const upstream = connect(this.target);
    this.sockets.add(client).add(upstream);
    let cut = false;
    let pending = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      if (!cut) client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on('close', end).on('error', end);
    client.on('close', end).on('error', end);
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

/**
 * A tiny TCP load balancer for tests, as HAProxy or a cloud load balancer in TCP mode would be
 * in front of several collectors: each new connection goes to the next backend in turn (so
 * agents spread across them), and to the one after when a backend refuses it (a collector that
 * died). Bytes are piped as they are; when either side closes, so does the other. It counts the
 * connections each backend took.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface FailoverProxy {
  port: number;
  /** Connections each backend port took, in order of `backends`. */
  taken(): number[];
  /** Connections open now through each backend. */
  open(): number[];
  close(): Promise<void>;
}

/** Listens on a free loopback port in front of `backends` (loopback ports). */
export async function startFailoverProxy(backends: readonly number[]): Promise<FailoverProxy> {
  const taken = backends.map(() => 0);
  const open = backends.map(() => 0);
  const sockets = new Set<net.Socket>();
  let next = 0;
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  };
  const server = net.createServer((client) => {
    track(client);
    client.pause();
    const first = next;
    next = (next + 1) % backends.length;
    const attempt = (tries: number): void => {
      if (tries === backends.length || client.destroyed) {
        client.destroy();
        return;
      }
      const index = (first + tries) % backends.length;
      const upstream = net.connect({ host: '127.0.0.1', port: backends[index] as number });
      track(upstream);
      let connected = false;
      upstream.once('error', () => {
        // Refused before it connected: the next backend; after: the client's socket goes with it.
        if (!connected) attempt(tries + 1);
        else client.destroy();
      });
      upstream.once('connect', () => {
        connected = true;
        taken[index] = (taken[index] as number) + 1;
        open[index] = (open[index] as number) + 1;
        upstream.once('close', () => {
          open[index] = (open[index] as number) - 1;
          client.destroy();
        });
        client.once('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    taken: () => [...taken],
    open: () => [...open],
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

/** Starts `server` on a free loopback port; returns its base URL and a closer that also drops open sockets. */
export async function listen(server: http.Server | net.Server): Promise<{ url: string; port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A raw TCP server whose every connection is handed to `onConnection` (for hand-written HTTP). */
export function rawServer(onConnection: (socket: net.Socket) => void): net.Server {
  return net.createServer((socket) => {
    socket.on('error', () => {});
    onConnection(socket);
  });
}

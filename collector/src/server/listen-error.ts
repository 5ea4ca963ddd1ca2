/** The collector could not open its port: one line that says which and why, for the operator. */
import { SpeedwatchError } from '@speedwatch/shared';

const HINTS: Record<string, string> = {
  EADDRINUSE: 'the port is in use: stop what holds it or choose another port (--port, SPEEDWATCH_PORT)',
  EADDRNOTAVAIL: 'the address is not one of this host\'s: choose another host (--host, SPEEDWATCH_HOST)',
  EACCES: 'permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE; choose a port of 1024 or above',
  ENOTFOUND: 'the host name does not resolve: give an address of this host (--host, SPEEDWATCH_HOST)',
};

export class CollectorListenError extends SpeedwatchError {
  constructor(host: string, port: number, cause: NodeJS.ErrnoException) {
    const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const hint = HINTS[cause.code ?? ''] ?? cause.message;
    super('SW_COLLECTOR_LISTEN', `cannot listen on ${where}: ${hint}${cause.code === undefined ? '' : ` (${cause.code})`}`, { cause });
    this.name = 'CollectorListenError';
  }
}

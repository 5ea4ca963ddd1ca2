/**
 * A minimal HTTP/1.1 client for the download hot path. It reads every socket into one
 * preallocated buffer through `net`'s `onread` option and only counts body bytes, so no
 * Buffer is allocated and no stream event fires per read. BASELINES.md measured this at
 * ~1.2x curl's CPU per byte where undici's dispatch API costs ~3.3x; the benchmark
 * (`npm run bench`) keeps that honest. It speaks just enough HTTP for a GET: status line,
 * Content-Length, chunked transfer coding (LibreSpeed's PHP backend uses it) and
 * read-until-close, with keep-alive so one connection serves many requests.
 */
import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { socketAddress } from './endpoints.js';
import { MeasureError, toMeasureError } from './measure-error.js';
import { announceTlsSocket } from '../traffic/own-traffic.js';

const MAX_HEAD_BYTES = 64 * 1024;
const CRLF2 = Buffer.from('\r\n\r\n');

type BodyState = 'idle' | 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailer' | 'until-close';

export interface RawHttpConnectionOptions {
  url: URL;
  /** One buffer that every read lands in; may be shared by connections (reads are synchronous). */
  readBuffer: Buffer;
  connectTimeoutMs: number;
  /** Extra CA certificates to trust for https (PEM). */
  ca?: string | Buffer;
  userAgent: string;
  /**
   * Called at the first read of a response body after a pause of more than `holdGapMs` in
   * the middle of that body, with the `performance.now()` of the read before the pause and the
   * body bytes counted by then. After a lost packet TCP holds back everything behind the hole
   * until the retransmission arrives, then hands it over in one burst: the bytes of that burst
   * arrived during the pause, not when they were read.
   */
  onHold?: (sinceMs: number, bodyBytes: number) => void;
  /** Shortest pause that `onHold` reports, in ms (default 5). */
  holdGapMs?: number;
}

export class RawHttpConnection {
  /** Body payload bytes received over this connection's life (headers and chunk framing excluded). */
  bodyBytes = 0;
  /** True from the moment the connection is open; a stall can only happen after it. */
  connected = false;
  /** `performance.now()` of the last byte received, or of the connection opening. */
  lastReadAt = performance.now();
  /** False once the server asked to close, or after an error: open a new connection. */
  reusable = true;

  readonly #options: RawHttpConnectionOptions;
  readonly #holdGapMs: number;
  #socket: net.Socket | undefined;
  #state: BodyState = 'idle';
  #head: Buffer[] = [];
  #headBytes = 0;
  #remaining = 0;
  #line = '';
  #crlfLeft = 0;
  #pending: { resolve: () => void; reject: (err: Error) => void } | undefined;
  #failure: MeasureError | undefined;

  constructor(options: RawHttpConnectionOptions) {
    this.#options = options;
    this.#holdGapMs = options.holdGapMs ?? 5;
  }

  /** Opens the TCP (and TLS) connection; rejects with a coded MeasureError. */
  connect(): Promise<void> {
    const { url, readBuffer, connectTimeoutMs, ca } = this.#options;
    const { host, port } = socketAddress(url);
    // Returning true keeps the socket reading; false would pause it.
    const onread = { buffer: readBuffer, callback: (n: number, buf: Buffer): boolean => (this.#onRead(n, buf), true) };
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy(new MeasureError('SW_CONNECT_TIMEOUT', `${url.origin}: no connection within ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      const socket =
        url.protocol === 'https:'
          ? tls.connect({
              host,
              port,
              ...(net.isIP(host) === 0 ? { servername: host } : {}),
              ...(ca === undefined ? {} : { ca }),
              onread,
            } as tls.ConnectionOptions)
          : net.connect({ host, port, onread });
      this.#socket = socket;
      // Node announces plain sockets to the traffic meter itself, not TLS ones.
      if (url.protocol === 'https:') announceTlsSocket(socket);
      const ready = url.protocol === 'https:' ? 'secureConnect' : 'connect';
      const onError = (err: Error): void => {
        clearTimeout(timer);
        this.reusable = false;
        reject(toMeasureError(err, url.origin));
      };
      // destroy() while connecting closes the socket without an 'error': settle on 'close' too,
      // or whoever awaits the connect waits forever.
      const onClose = (): void => {
        clearTimeout(timer);
        this.reusable = false;
        reject(this.#failure ?? new MeasureError('SW_RESET', `${url.origin}: connection closed while opening`));
      };
      socket.once('error', onError);
      socket.once('close', onClose);
      socket.once(ready, () => {
        clearTimeout(timer);
        socket.off('error', onError);
        socket.off('close', onClose);
        this.connected = true;
        this.lastReadAt = performance.now();
        socket.setNoDelay(true);
        socket.on('error', (err) => this.#fail(toMeasureError(err, url.origin)));
        socket.on('end', () => this.#onEnd());
        socket.on('close', () => this.#onEnd());
        resolve();
      });
    });
  }

  /**
   * Sends `GET pathAndQuery` and resolves when the whole body has arrived. Rejects with
   * SW_HTTP_STATUS for a non-200 answer, SW_RESET if the connection ends early.
   */
  get(pathAndQuery: string): Promise<void> {
    const socket = this.#socket;
    if (socket === undefined || this.#failure !== undefined || !this.reusable) {
      return Promise.reject(this.#failure ?? new MeasureError('SW_RESET', `${this.#options.url.origin}: connection is not open`));
    }
    if (this.#pending !== undefined) throw new Error('RawHttpConnection: one request at a time');
    const { url, userAgent } = this.#options;
    this.#state = 'head';
    this.#head = [];
    this.#headBytes = 0;
    socket.write(
      `GET ${pathAndQuery} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: ${userAgent}\r\n` +
        'Accept: */*\r\nAccept-Encoding: identity\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\n\r\n',
    );
    return new Promise<void>((resolve, reject) => {
      this.#pending = { resolve, reject };
    });
  }

  /** Closes the connection; a request in flight rejects with `reason` (default SW_ABORTED). */
  destroy(reason?: MeasureError): void {
    this.#fail(reason ?? new MeasureError('SW_ABORTED', `${this.#options.url.origin}: stopped`));
  }

  #fail(err: MeasureError): void {
    this.reusable = false;
    this.#failure ??= err;
    this.#state = 'idle';
    this.#socket?.destroy();
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(this.#failure);
  }

  #finishBody(): void {
    this.#state = 'idle';
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.resolve();
  }

  #onEnd(): void {
    if (this.#state === 'until-close') {
      this.reusable = false;
      this.#finishBody();
      return;
    }
    if (this.#failure === undefined) {
      const during = this.#pending === undefined ? 'between requests' : 'in the middle of a response';
      this.#fail(new MeasureError('SW_RESET', `${this.#options.url.origin}: connection closed ${during}`));
    }
  }

  // Hot path: called for every read, with `n` fresh bytes at the start of `buf`.
  #onRead(n: number, buf: Buffer): void {
    const now = performance.now();
    if (now - this.lastReadAt > this.#holdGapMs && this.#inBody()) this.#options.onHold?.(this.lastReadAt, this.bodyBytes);
    this.lastReadAt = now;
    let i = 0;
    while (i < n) {
      switch (this.#state) {
        case 'length': {
          const take = Math.min(this.#remaining, n - i);
          this.bodyBytes += take;
          this.#remaining -= take;
          i += take;
          if (this.#remaining === 0) this.#finishBody();
          break;
        }
        case 'until-close':
          this.bodyBytes += n - i;
          i = n;
          break;
        case 'chunk-data': {
          const take = Math.min(this.#remaining, n - i);
          this.bodyBytes += take;
          this.#remaining -= take;
          i += take;
          if (this.#remaining === 0) {
            this.#state = 'chunk-crlf';
            this.#crlfLeft = 2;
          }
          break;
        }
        case 'chunk-crlf': {
          const take = Math.min(this.#crlfLeft, n - i);
          this.#crlfLeft -= take;
          i += take;
          if (this.#crlfLeft === 0) {
            this.#state = 'chunk-size';
            this.#line = '';
          }
          break;
        }
        case 'chunk-size':
        case 'trailer':
          i = this.#readLine(buf, i, n);
          break;
        case 'head':
          i = this.#readHead(buf, i, n);
          break;
        case 'idle':
          if (this.#failure === undefined) {
            this.#fail(new MeasureError('SW_PROTOCOL', `${this.#options.url.origin}: data after the response ended`));
          }
          return;
      }
    }
  }

  #inBody(): boolean {
    const state = this.#state;
    return state === 'length' || state === 'until-close' || state === 'chunk-data' || state === 'chunk-crlf' || state === 'chunk-size';
  }

  #readLine(buf: Buffer, start: number, n: number): number {
    const newline = buf.indexOf(10, start);
    const end = newline === -1 || newline >= n ? n : newline;
    this.#line += buf.toString('latin1', start, end);
    if (this.#line.length > 1024) {
      this.#fail(new MeasureError('SW_PROTOCOL', `${this.#options.url.origin}: chunk line too long`));
      return n;
    }
    if (end === n) return n;
    const line = this.#line.replace(/\r$/, '');
    this.#line = '';
    if (this.#state === 'trailer') {
      if (line === '') this.#finishBody();
      return end + 1;
    }
    const size = Number.parseInt(line.split(';', 1)[0] ?? '', 16);
    if (!Number.isSafeInteger(size) || size < 0 || !/^[0-9a-fA-F]+/.test(line)) {
      this.#fail(new MeasureError('SW_PROTOCOL', `${this.#options.url.origin}: bad chunk size line ${JSON.stringify(line.slice(0, 40))}`));
      return n;
    }
    if (size === 0) {
      this.#state = 'trailer';
    } else {
      this.#state = 'chunk-data';
      this.#remaining = size;
    }
    return end + 1;
  }

  #readHead(buf: Buffer, start: number, n: number): number {
    // The terminator may straddle two reads, so search the joined head so far.
    const piece = Buffer.from(buf.subarray(start, n));
    this.#head.push(piece);
    const before = this.#headBytes;
    this.#headBytes += piece.length;
    const joined = this.#head.length === 1 ? piece : Buffer.concat(this.#head);
    const end = joined.indexOf(CRLF2, Math.max(0, before - 3));
    if (end === -1) {
      if (this.#headBytes > MAX_HEAD_BYTES) {
        this.#fail(new MeasureError('SW_PROTOCOL', `${this.#options.url.origin}: response head over ${MAX_HEAD_BYTES} bytes`));
      }
      return n;
    }
    this.#head = [];
    this.#startBody(joined.toString('latin1', 0, end));
    // Bytes after the head belong to the body; hand them back to the loop.
    return start + (end + 4 - before);
  }

  #startBody(head: string): void {
    const lines = head.split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (status === null) {
      this.#fail(new MeasureError('SW_PROTOCOL', `${this.#options.url.origin}: not an HTTP/1.1 status line: ${JSON.stringify((lines[0] ?? '').slice(0, 60))}`));
      return;
    }
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const code = Number(status[1]);
    if (code !== 200) {
      this.#fail(new MeasureError('SW_HTTP_STATUS', `${this.#options.url.href}: HTTP ${code}`));
      return;
    }
    if ((headers.get('connection') ?? '').toLowerCase() === 'close') this.reusable = false;
    const length = headers.get('content-length');
    if ((headers.get('transfer-encoding') ?? '').toLowerCase().includes('chunked')) {
      this.#state = 'chunk-size';
      this.#line = '';
    } else if (length !== undefined) {
      const bytes = Number(length);
      if (!Number.isSafeInteger(bytes) || bytes < 0) {
        this.#fail(new MeasureError('SW_PROTOCOL', `${this.#options.url.origin}: bad Content-Length ${JSON.stringify(length)}`));
        return;
      }
      this.#state = 'length';
      this.#remaining = bytes;
      if (bytes === 0) this.#finishBody();
    } else {
      this.#state = 'until-close';
      this.reusable = false;
    }
  }
}

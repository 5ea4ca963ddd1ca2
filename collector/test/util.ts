import net from 'node:net';

/** A loopback port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** An HTTP answer with its body parsed as JSON where it is JSON (else `body` is undefined). */
export interface JsonAnswer {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

/** Fetches `url` and reads the answer, parsing JSON where it is JSON. */
export async function requestJson(url: string, init: RequestInit = {}): Promise<JsonAnswer> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, text, body };
}

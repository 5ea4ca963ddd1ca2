/** A small request body (enrollment, the API's actions, the console's login), read whole. */
import type { IncomingMessage } from 'node:http';

/** The body as UTF-8 text, or undefined once it passes `maxBytes` (the rest is not read into memory). */
export async function readBodyText(req: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > maxBytes) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

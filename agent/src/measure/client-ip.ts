import { request } from 'undici';
import { Agent } from 'undici';

/**
 * The client's address as the endpoint sees it (LibreSpeed's getIP answers JSON with
 * `processedString`, or plain text). Best effort: undefined on any failure, since the
 * address is context for a result, not a measurement.
 */
export async function fetchClientIp(url: URL, options: { timeoutMs: number; ca?: string | Buffer }): Promise<string | undefined> {
  const dispatcher = new Agent({ connect: { timeout: options.timeoutMs, ...(options.ca === undefined ? {} : { ca: options.ca }) } });
  try {
    const res = await request(url, { dispatcher, signal: AbortSignal.timeout(options.timeoutMs) });
    const text = (await res.body.text()).slice(0, 4096);
    if (res.statusCode !== 200) return undefined;
    let ip: unknown = text.trim();
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null) ip = (parsed as Record<string, unknown>)['processedString'];
    } catch {
      // Plain text answer.
    }
    // processedString may carry ISP details after " - "; keep the address.
    return typeof ip === 'string' && ip !== '' ? (ip.split(' - ')[0] ?? ip).slice(0, 64) : undefined;
  } catch {
    return undefined;
  } finally {
    await dispatcher.destroy().catch(() => {});
  }
}

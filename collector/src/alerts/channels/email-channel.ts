/**
 * E-mail over SMTP, through nodemailer: STARTTLS (required, never skipped: `security:
 * starttls`), TLS from the first byte (`tls`, port 465) or none (a local relay), AUTH PLAIN or
 * LOGIN (whichever the server offers) when a user and password are configured. One message per
 * alert or per digest, plain text UTF-8, to every address of the channel's `to`. Only an SMTP
 * 250 for the message counts as accepted; a connection is opened per message (alerts are rare,
 * and a pool would hold a connection open that the server may drop at any time).
 */
import { createTransport } from 'nodemailer';
import type { Channel, Outgoing } from './channel.js';
import type { EmailChannelConfig } from './channel-config.js';
import { ChannelError, scrub, scrubError } from './channel-error.js';

type Transport = ReturnType<typeof createTransport>;

/** What nodemailer puts on its errors. */
interface MailError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
}

const NETWORK_CODES = new Set(['ECONNECTION', 'ESOCKET', 'EDNS', 'ETLS', 'EPROXY', 'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH']);

export class EmailChannel implements Channel {
  readonly type = 'email';
  readonly alertsPerMessage = 1;
  readonly name: string;
  readonly #config: EmailChannelConfig;
  readonly #secrets: string[];

  constructor(config: EmailChannelConfig) {
    this.name = config.name;
    this.#config = config;
    const password = config.smtp.password?.reveal();
    this.#secrets = password === undefined ? [] : [password, Buffer.from(password).toString('base64')];
  }

  async send(out: Outgoing, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const { from, to, smtp } = this.#config;
    const what = `email channel ${JSON.stringify(this.name)}: SMTP ${smtp.host}:${smtp.port}`;
    signal.throwIfAborted();
    const transport = this.#transport(timeoutMs);
    const sending = transport.sendMail({ from, to: [...to], subject: out.message.subject, text: out.message.text });
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_resolve, reject) => {
      onAbort = () => reject(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([sending, aborted]);
    } catch (err) {
      if (signal.aborted) {
        sending.catch(() => undefined); // it ends on its own timeouts; nothing waits for it
        throw err;
      }
      throw this.#failure(err as MailError, what, timeoutMs);
    } finally {
      if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
      if (!signal.aborted) transport.close();
    }
  }

  close(): void {}

  /** A transport for one message: it opens a connection, sends, and quits. */
  #transport(timeoutMs: number): Transport {
    const { smtp } = this.#config;
    const password = smtp.password?.reveal();
    return createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.security === 'tls',
      requireTLS: smtp.security === 'starttls',
      ignoreTLS: smtp.security === 'none',
      ...(smtp.user === undefined || password === undefined ? {} : { auth: { user: smtp.user, pass: password } }),
      // nodemailer checks the certificate against `host` (an IP address against the certificate's IP entries).
      ...(smtp.ca === undefined ? {} : { tls: { ca: smtp.ca } }),
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      // nodemailer's own logging would print the SMTP dialogue, AUTH included.
      logger: false,
      debug: false,
    });
  }

  #failure(err: MailError, what: string, timeoutMs: number): ChannelError {
    const reason = scrub(`${err.code ?? ''} ${err.response ?? err.message}`.trim().replace(/\s+/g, ' ').slice(0, 300), this.#secrets);
    const cause = scrubError(err, this.#secrets);
    if (err.code === 'EAUTH' || err.code === 'ENOAUTH') {
      return new ChannelError('SW_CHANNEL_AUTH', `${what}: authentication failed: ${reason}`, { retryable: false, cause, ...status(err) });
    }
    if (err.code === 'ETIMEDOUT') return new ChannelError('SW_CHANNEL_TIMEOUT', `${what}: no answer within ${timeoutMs} ms`, { retryable: true, cause });
    if (err.code === 'ETLS') {
      // Never sent in clear: with `security: starttls` the message waits for a server that takes STARTTLS.
      return new ChannelError('SW_CHANNEL_NETWORK', `${what}: STARTTLS failed (the server does not offer it, or the TLS handshake failed): ${reason}`, { retryable: true, cause, ...status(err) });
    }
    if (typeof err.responseCode === 'number' && err.responseCode >= 400) {
      // RFC 5321: 4yz is transient, 5yz permanent.
      return new ChannelError('SW_CHANNEL_REFUSED', `${what}: ${reason}`, { retryable: err.responseCode < 500, cause, ...status(err) });
    }
    if (err.code !== undefined && NETWORK_CODES.has(err.code)) return new ChannelError('SW_CHANNEL_NETWORK', `${what}: ${reason}`, { retryable: true, cause });
    return new ChannelError('SW_CHANNEL_REFUSED', `${what}: ${reason}`, { retryable: false, cause });
  }
}

function status(err: MailError): { status?: number } {
  return typeof err.responseCode === 'number' ? { status: err.responseCode } : {};
}

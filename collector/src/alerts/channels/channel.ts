/**
 * A channel: where a route's notifications go (docs/alerts.md#channels). Alertmanager webhooks
 * take the alerts as data, grouped by alert name; e-mail, Telegram, Zalo and ntfy are read by
 * people and take one message per alert (or a route's daily digest), already written in the
 * route's language. A channel sends one message per `send` and says nothing of retries: the
 * notifier owns the backoff, the outbox and the logs.
 */
import type { NotificationStatus, WebhookAlert } from '../webhook-payload.js';

export const CHANNEL_TYPES = ['email', 'telegram', 'zalo', 'ntfy', 'webhook'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

/** A message for people, rendered in a route's language (alert-text.ts). */
export interface PersonMessage {
  /** One line: the e-mail's subject, ntfy's title, the first line in a chat. */
  subject: string;
  /** Plain text, lines separated by `\n`; the link is its last line when there is one. */
  text: string;
  /** The console page to open (the site's page), when there is one. */
  link?: string;
  /** `digest` for a route's daily list of sites below target. */
  kind: NotificationStatus | 'digest';
  /** The alert's `severity` label (`warning`, `info`, `critical`); `info` for a digest. */
  severity: string;
}

/** One message to send. */
export interface Outgoing {
  /** The alerts' name (`digest` for a digest). */
  alertname: string;
  /** The alerts as Alertmanager's webhook format carries them: what a webhook receives. */
  alerts: readonly { status: NotificationStatus; alert: WebhookAlert }[];
  /** Base of `externalURL`, ending with `/`. */
  externalUrl: string;
  /** What a person reads (unused by a webhook). */
  message: PersonMessage;
}

export interface Channel {
  /** The configured name; for an entry of `alerts.webhooks`, its URL's scheme, host and port. Logged and shown: never a secret. */
  readonly name: string;
  readonly type: ChannelType;
  /** Alerts one message may carry: a webhook groups up to 100 of one name, people's channels take one. */
  readonly alertsPerMessage: number;
  /**
   * Sends `out` once, within `timeoutMs`. Resolves when the channel accepted it; rejects with a
   * ChannelError (a WebhookError for webhooks), or with the abort error once `signal` aborts.
   */
  send(out: Outgoing, timeoutMs: number, signal: AbortSignal): Promise<void>;
  /** Releases what the channel holds (the SMTP transport). */
  close(): void;
}

/** `text` cut to `max` characters (code points), ending with `…` when cut. */
export function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * The message as one text for a chat, at most `maxChars` characters: the subject, a blank line,
 * the body. A body too long (a digest of many sites) is cut before its last line, the link,
 * which is kept.
 */
export function chatText(message: PersonMessage, maxChars: number): string {
  const full = `${message.subject}\n\n${message.text}`;
  if ([...full].length <= maxChars) return full;
  const tail = message.link === undefined ? '' : `\n${message.link}`;
  const body = message.link !== undefined && message.text.endsWith(message.link) ? message.text.slice(0, -message.link.length).trimEnd() : message.text;
  return `${clip(`${message.subject}\n\n${body}`, Math.max(1, maxChars - [...tail].length))}${tail}`;
}

/**
 * The channels as configured (`alerts.channels`, validated in config/alert-routing-config.ts):
 * where messages go and with what credentials. Secrets are Secret objects, read from the files
 * or environment variables the config names.
 */
import type { Secret } from '../../config/secret.js';

/** How the SMTP connection is protected. */
export const SMTP_SECURITY = ['starttls', 'tls', 'none'] as const;
export type SmtpSecurity = (typeof SMTP_SECURITY)[number];

export interface SmtpSettings {
  host: string;
  /** Default 587 with `starttls`, 465 with `tls`, 25 with `none`. */
  port: number;
  /**
   * `starttls`: plain connection upgraded with STARTTLS, which the server must offer (the
   * message is never sent in clear); `tls`: TLS from the first byte (port 465); `none`: no TLS
   * (a relay on the same host or network only).
   */
  security: SmtpSecurity;
  /** AUTH user; with `password`, the client authenticates (PLAIN or LOGIN, as the server offers). */
  user?: string;
  password?: Secret;
  /** Extra CA certificates (PEM) to trust for the server's certificate, read from `caFile`. */
  ca?: Buffer;
}

export interface EmailChannelConfig {
  type: 'email';
  name: string;
  smtp: Readonly<SmtpSettings>;
  /** `Speedwatch <alerts@example.org>` or a bare address. */
  from: string;
  to: readonly string[];
}

export interface TelegramChannelConfig {
  type: 'telegram';
  name: string;
  /** Bot API base, default `https://api.telegram.org` (a self-hosted Bot API server, or a test's). */
  baseUrl: string;
  token: Secret;
  /** A chat's id (`-1001234567890`) or a public channel's `@name`. */
  chatId: string;
}

export interface ZaloChannelConfig {
  type: 'zalo';
  name: string;
  /** Official Account API base, default `https://openapi.zalo.me`. */
  baseUrl: string;
  accessToken: Secret;
  /** The follower's user id for this OA. */
  userId: string;
}

export interface NtfyChannelConfig {
  type: 'ntfy';
  name: string;
  /** Server, default `https://ntfy.sh`. */
  baseUrl: string;
  topic: string;
  /** An access token (`tk_…`), sent as `Authorization: Bearer`; absent for an open topic. */
  token?: Secret;
}

export interface WebhookChannelConfig {
  type: 'webhook';
  name: string;
  /** Receives Alertmanager's webhook format; the URL may carry a secret, and is never shown. */
  url: string;
}

export type ChannelConfig = EmailChannelConfig | TelegramChannelConfig | ZaloChannelConfig | NtfyChannelConfig | WebhookChannelConfig;

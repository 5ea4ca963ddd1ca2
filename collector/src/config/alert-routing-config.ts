/**
 * `alerts.channels` and `alerts.routes` (docs/alerts.md#channels, #routes): their schema, and
 * what turns the parsed file into channels with their secrets read (from the files and
 * environment variables the config names) and routes checked against the channels. Every
 * problem is reported with its key path (`alerts.routes[2].channel`), the secrets' values never.
 */
import { readFileSync } from 'node:fs';
import type { Problem, Schema } from '@speedwatch/shared';
import { array, number, object, oneOf, optional, problemAt, refine, select, SITE_KINDS, string, TECHNOLOGIES, ValidationError } from '@speedwatch/shared';
import { ALERT_NAMES } from '../alerts/alert-rules.js';
import type { LocalTime, RouteConfig, RouteMatch } from '../alerts/alert-routes.js';
import { DIGEST_ALERTNAME, ROUTE_LANGS, SEVERITIES } from '../alerts/alert-routes.js';
import { CHANNEL_TYPES } from '../alerts/channels/channel.js';
import type { ChannelConfig, SmtpSettings } from '../alerts/channels/channel-config.js';
import { SMTP_SECURITY } from '../alerts/channels/channel-config.js';
import { httpBaseUrl, httpUrl } from './http-url.js';
import { readSecret } from './secret.js';
import type { SecretRef } from './secret.js';

const name = (what: string): Schema<string> => ({
  expected: `${what}: 1 to 64 letters, digits, '.', '_' or '-'`,
  parse(value, path = '') {
    if (typeof value !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value)) {
      throw new ValidationError(path, `${what}: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit, got ${JSON.stringify(typeof value === 'string' ? value.slice(0, 64) : typeof value)}`);
    }
    return value;
  },
});

/** `HH:MM`, 24 h. */
const localTime: Schema<LocalTime> = {
  expected: 'a time of day as HH:MM (24 h), e.g. "22:00"',
  parse(value, path = '') {
    const match = typeof value === 'string' ? /^([01]\d|2[0-3]):([0-5]\d)$/.exec(value) : null;
    if (match === null) throw new ValidationError(path, `a time of day as HH:MM (24 h), e.g. "22:00", got ${JSON.stringify(typeof value === 'string' ? value.slice(0, 20) : value)}`);
    return value as string;
  },
};

/** An e-mail address, bare (`it@example.org`), or with a display name for `from` (`Speedwatch <alerts@example.org>`). */
const address = (withName: boolean): Schema<string> => ({
  expected: withName ? 'an e-mail address, or "Name <address>"' : 'an e-mail address',
  parse(value, path = '') {
    const bare = /^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/;
    const named = /^[^<>\r\n]*<([^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+)>$/;
    if (typeof value !== 'string' || value.length > 320 || !(bare.test(value) || (withName && named.test(value.trim())))) {
      throw new ValidationError(path, `${withName ? 'an e-mail address, or "Name <address>",' : 'an e-mail address'} got ${JSON.stringify(typeof value === 'string' ? value.slice(0, 80) : typeof value)}`);
    }
    return value.trim();
  },
});

const secretRefObject = refine(
  object({ file: optional(string({ minLength: 1, maxLength: 4096 })), env: optional(string({ minLength: 1, maxLength: 128 })) }),
  (ref, report) => {
    if ((ref.file === undefined) === (ref.env === undefined)) report('', '{file: PATH} or {env: NAME}', 'give the secret as {file: PATH} or {env: NAME} (one of them): secrets are not written in the config');
    if (ref.env !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(ref.env)) report('env', 'an environment variable name', `an environment variable name (letters, digits, _), got ${JSON.stringify(ref.env.slice(0, 40))}`);
  },
) as Schema<SecretRef>;

/** `{file: PATH}` or `{env: NAME}`; anything else is refused without being echoed (it may be the secret itself). */
const secretRef: Schema<SecretRef> = select<SecretRef>(secretRefObject.expected, (value) =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? secretRefObject
    : {
        expected: secretRefObject.expected,
        parse(_value, path = '') {
          throw new ValidationError(path, '{file: PATH} or {env: NAME}', { message: `give the secret as {file: PATH} or {env: NAME}: secrets are not written in the config (got ${typeof value === 'string' ? `a string of ${value.length} characters` : typeof value}, not shown)` });
        },
      },
);

/** One value or a list of them, as a list. */
function oneOrMany<T>(item: Schema<T>): Schema<T[]> {
  const list = array(item, { minItems: 1, maxItems: 100 });
  return select<T[]>(`${item.expected}, or a list of them`, (value) =>
    Array.isArray(value)
      ? list
      : {
          expected: item.expected,
          parse: (v, path = '') => [item.parse(v, path)],
        },
  );
}

const channelBase = { name: name('a channel name') };
const channelSchemas = {
  email: object({
    ...channelBase,
    type: oneOf(['email']),
    smtp: refine(
      object({
        host: string({ minLength: 1, maxLength: 255 }),
        port: optional(number({ min: 1, max: 65535, integer: true })),
        security: optional(oneOf(SMTP_SECURITY)),
        user: optional(string({ minLength: 1, maxLength: 320 })),
        password: optional(secretRef),
        caFile: optional(string({ minLength: 1, maxLength: 4096 })),
      }),
      ['user', 'password'],
      (smtp, report) => {
        if ((smtp.user === undefined) !== (smtp.password === undefined)) report(smtp.user === undefined ? 'user' : 'password', 'user and password together', 'give user and password together (SMTP AUTH), or neither');
      },
    ),
    from: address(true),
    to: oneOrMany(address(false)),
  }),
  telegram: object({
    ...channelBase,
    type: oneOf(['telegram']),
    baseUrl: optional(httpBaseUrl),
    token: secretRef,
    chatId: {
      expected: 'a chat id (-1001234567890) or a public channel (@name)',
      parse(value, path = '') {
        const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
        if (typeof text !== 'string' || !/^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$/.test(text)) {
          throw new ValidationError(path, `a chat id (-1001234567890) or a public channel (@name), got ${JSON.stringify(typeof text === 'string' ? text.slice(0, 40) : text)}`);
        }
        return text;
      },
    } satisfies Schema<string>,
  }),
  zalo: object({
    ...channelBase,
    type: oneOf(['zalo']),
    baseUrl: optional(httpBaseUrl),
    accessToken: secretRef,
    userId: {
      expected: "the follower's Zalo user id (digits)",
      parse(value, path = '') {
        const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
        if (typeof text !== 'string' || !/^\d{1,32}$/.test(text)) throw new ValidationError(path, `the follower's Zalo user id (digits, as a string), got ${JSON.stringify(typeof text === 'string' ? text.slice(0, 40) : text)}`);
        return text;
      },
    } satisfies Schema<string>,
  }),
  ntfy: object({
    ...channelBase,
    type: oneOf(['ntfy']),
    baseUrl: optional(httpBaseUrl),
    topic: string({ minLength: 1, maxLength: 64, pattern: /^[-_A-Za-z0-9]+$/ }),
    token: optional(secretRef),
  }),
  webhook: object({ ...channelBase, type: oneOf(['webhook']), url: httpUrl }),
};

export type FileChannel = ReturnType<(typeof channelSchemas)[keyof typeof channelSchemas]['parse']>;

const channelSchema: Schema<FileChannel> = select<FileChannel>('a channel: {name, type: email|telegram|zalo|ntfy|webhook, …}', (value) => {
  const type = (value as { type?: unknown } | null)?.type;
  return typeof type === 'string' && type in channelSchemas
    ? (channelSchemas[type as keyof typeof channelSchemas])
    : (object({ ...channelBase, type: oneOf(CHANNEL_TYPES) }) as unknown as Schema<FileChannel>);
});

const matchSchema = object({
  areaPrefix: optional(oneOrMany(string({ minLength: 1, maxLength: 400 }))),
  siteKind: optional(oneOrMany(oneOf(SITE_KINDS))),
  technology: optional(oneOrMany(oneOf(TECHNOLOGIES))),
  severity: optional(oneOrMany(oneOf(SEVERITIES))),
  alertname: optional(oneOrMany(oneOf(Object.values(ALERT_NAMES)))),
});

const routeSchema = refine(
  object({
    name: name('a route name'),
    channel: string({ minLength: 1, maxLength: 64 }),
    match: optional(matchSchema),
    lang: oneOf(ROUTE_LANGS),
    quietHours: optional(
      refine(object({ from: localTime, to: localTime }), (quiet, report) => {
        if (quiet.from === quiet.to) report('to', 'a time other than from', 'differs from quietHours.from (an empty or whole-day quiet period is not one)');
      }),
    ),
    digest: optional(object({ at: localTime })),
  }),
  ['match', 'digest'],
  (route, report) => {
    const names = route.match?.alertname;
    if (route.digest !== undefined && names !== undefined && names.some((n) => n !== DIGEST_ALERTNAME)) {
      report('match.alertname', `only ${DIGEST_ALERTNAME} on a digest route`, `a digest route lists the sites below target (${DIGEST_ALERTNAME}) and sends nothing else: leave match.alertname out, or give a route of its own to the other alerts`);
    }
  },
);

type FileRoute = ReturnType<typeof routeSchema.parse>;

/** `alerts.channels` (names are checked unique by `checkUniqueNames`, on the raw file). */
export const channelsSchema = array(channelSchema, { maxItems: 100 });

/** `alerts.routes` (names checked unique, and each `channel` checked against the channels, by `resolveAlertRouting`). */
export const routesSchema = array(routeSchema, { maxItems: 500 });

/**
 * A problem for each channel or route whose name an earlier one has, read from the raw file so
 * that a duplicate is reported even when other entries have problems of their own.
 */
export function checkUniqueNames(raw: unknown, problems: Problem[]): void {
  const alerts = (raw as { alerts?: Record<string, unknown> } | null | undefined)?.alerts;
  for (const list of ['channels', 'routes'] as const) {
    const entries = alerts?.[list];
    if (!Array.isArray(entries)) continue;
    const names = entries.map((e) => (e as { name?: unknown } | null)?.name);
    names.forEach((n, i) => {
      const first = names.indexOf(n);
      if (typeof n === 'string' && first !== i) problems.push(problemAt(`alerts.${list}[${i}].name`, `the same name as alerts.${list}[${first}].name, ${JSON.stringify(n.slice(0, 64))}: give each ${list === 'channels' ? 'channel' : 'route'} its own`));
    });
  }
}

/** Default API bases, overridden by a channel's `baseUrl` (a self-hosted gateway or server). */
export const CHANNEL_BASE_URLS = Object.freeze({ telegram: 'https://api.telegram.org', zalo: 'https://openapi.zalo.me', ntfy: 'https://ntfy.sh' });

const SMTP_PORTS = Object.freeze({ starttls: 587, tls: 465, none: 25 });

/** The names the file gives its channels, valid or not: what routes are checked against while a channel has problems of its own. */
export function channelNamesIn(raw: unknown): string[] {
  const channels = (raw as { alerts?: { channels?: unknown } } | null | undefined)?.alerts?.channels;
  return Array.isArray(channels) ? channels.flatMap((c) => (typeof (c as { name?: unknown } | null)?.name === 'string' ? [(c as { name: string }).name] : [])) : [];
}

/**
 * The channels with their secrets read, and the routes, from `alerts.channels` and
 * `alerts.routes` as parsed (absent when they had problems, which are reported already).
 * `channelNames` are the names the file gives (channelNamesIn), which each route's `channel`
 * must be one of. Problems go to `problems`, keyed `alerts.channels[1].token.file`.
 */
export function resolveAlertRouting(
  parsed: { channels?: readonly FileChannel[] | undefined; routes?: readonly FileRoute[] | undefined } | undefined,
  channelNames: readonly string[],
  env: NodeJS.ProcessEnv,
  problems: Problem[],
): { channels: ChannelConfig[]; routes: RouteConfig[] } {
  const channels: ChannelConfig[] = [];
  const secret = (ref: SecretRef | undefined, key: string) => (ref === undefined ? undefined : readSecret(ref, key, env, problems));
  (parsed?.channels ?? []).forEach((c, i) => {
    const key = `alerts.channels[${i}]`;
    switch (c.type) {
      case 'email': {
        const security = c.smtp.security ?? 'starttls';
        const password = secret(c.smtp.password, `${key}.smtp.password`);
        let ca: Buffer | undefined;
        if (c.smtp.caFile !== undefined) {
          try {
            ca = readFileSync(c.smtp.caFile);
            if (!/-----BEGIN CERTIFICATE-----/.test(ca.toString('latin1'))) problems.push(problemAt(`${key}.smtp.caFile`, `${c.smtp.caFile} holds no PEM certificate`));
          } catch (err) {
            problems.push(problemAt(`${key}.smtp.caFile`, `cannot read ${c.smtp.caFile} (${(err as { code?: string }).code ?? String(err)})`));
          }
        }
        const smtp: SmtpSettings = {
          host: c.smtp.host,
          port: c.smtp.port ?? SMTP_PORTS[security],
          security,
          ...(c.smtp.user === undefined ? {} : { user: c.smtp.user }),
          ...(password === undefined ? {} : { password }),
          ...(ca === undefined ? {} : { ca }),
        };
        channels.push({ type: 'email', name: c.name, smtp: Object.freeze(smtp), from: c.from, to: Object.freeze([...c.to]) });
        break;
      }
      case 'telegram': {
        const token = secret(c.token, `${key}.token`);
        if (token !== undefined) channels.push({ type: 'telegram', name: c.name, baseUrl: c.baseUrl ?? CHANNEL_BASE_URLS.telegram, token, chatId: c.chatId });
        break;
      }
      case 'zalo': {
        const accessToken = secret(c.accessToken, `${key}.accessToken`);
        if (accessToken !== undefined) channels.push({ type: 'zalo', name: c.name, baseUrl: c.baseUrl ?? CHANNEL_BASE_URLS.zalo, accessToken, userId: c.userId });
        break;
      }
      case 'ntfy': {
        const token = secret(c.token, `${key}.token`);
        channels.push({ type: 'ntfy', name: c.name, baseUrl: c.baseUrl ?? CHANNEL_BASE_URLS.ntfy, topic: c.topic, ...(token === undefined ? {} : { token }) });
        break;
      }
      case 'webhook':
        channels.push({ type: 'webhook', name: c.name, url: c.url });
        break;
    }
  });
  const routes: RouteConfig[] = [];
  (parsed?.routes ?? []).forEach((r, i) => {
    if (!channelNames.includes(r.channel)) {
      const known = channelNames.length === 0 ? 'alerts.channels is empty' : `the channels are ${channelNames.map((n) => JSON.stringify(n)).join(', ')}`;
      problems.push(problemAt(`alerts.routes[${i}].channel`, `names no channel (${JSON.stringify(r.channel.slice(0, 64))}); ${known}`));
      return;
    }
    if (r.digest !== undefined && parsed?.channels?.find((c) => c.name === r.channel)?.type === 'webhook') {
      problems.push(problemAt(`alerts.routes[${i}].digest`, `a digest is a message for people: route it to an email, telegram, zalo or ntfy channel, not the webhook ${JSON.stringify(r.channel)}`));
      return;
    }
    const m = r.match ?? {};
    const match: RouteMatch = {
      ...(m.areaPrefix === undefined ? {} : { areaPrefix: Object.freeze([...m.areaPrefix]) }),
      ...(m.siteKind === undefined ? {} : { siteKind: Object.freeze([...m.siteKind]) }),
      ...(m.technology === undefined ? {} : { technology: Object.freeze([...m.technology]) }),
      ...(m.severity === undefined ? {} : { severity: Object.freeze([...m.severity]) }),
      ...(m.alertname === undefined ? {} : { alertname: Object.freeze([...m.alertname]) }),
    };
    routes.push(
      Object.freeze({
        name: r.name,
        channel: r.channel,
        match: Object.freeze(match),
        lang: r.lang,
        ...(r.quietHours === undefined ? {} : { quietHours: Object.freeze({ ...r.quietHours }) }),
        ...(r.digest === undefined ? {} : { digest: Object.freeze({ ...r.digest }) }),
      }),
    );
  });
  return { channels: channels.map((c) => Object.freeze(c)), routes };
}

/**
 * The config's http(s) URLs: a webhook's or the external URL (`httpUrl`), and a channel's API
 * base (`httpBaseUrl`). A refused one is shown by its first 8 characters only: a webhook's path
 * often holds a secret.
 */
import type { Schema } from '@speedwatch/shared';
import { ValidationError } from '@speedwatch/shared';

/** `value` as a URL, when it is a string of at most 2048 characters that parses as an http: or https: URL. */
function httpUrlOf(value: unknown): URL | undefined {
  if (typeof value !== 'string' || value.length > 2048) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
}

/** A refused value as a message shows it: never whole. */
const shown = (value: unknown): string => (typeof value === 'string' ? `"${value.slice(0, 8)}…"` : typeof value);

/** An absolute http:// or https:// URL of at most 2048 characters, kept as given. */
export const httpUrl: Schema<string> = {
  expected: 'an http:// or https:// URL',
  parse(value, path = '') {
    if (httpUrlOf(value) === undefined) throw new ValidationError(path, `an http:// or https:// URL of at most 2048 characters, got ${shown(value)}`);
    return value as string;
  },
};

/** An http(s) base URL without query, fragment or credentials; a trailing `/` is dropped. */
export const httpBaseUrl: Schema<string> = {
  expected: 'an http:// or https:// base URL',
  parse(value, path = '') {
    const url = httpUrlOf(value);
    if (url === undefined || url.search !== '' || url.hash !== '' || url.username !== '') {
      throw new ValidationError(path, `an http:// or https:// base URL without query, fragment or credentials, got ${shown(value)}`);
    }
    return (value as string).replace(/\/+$/, '');
  },
};

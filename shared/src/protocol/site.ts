/** Where an agent stands: the site metadata results are grouped and judged by. */
import type { Technology } from '../result/result.js';
import { TECHNOLOGIES } from '../result/result.js';
import type { Schema } from '../validate/schema.js';
import { number, object, oneOf, optional, string } from '../validate/schema.js';

export const SITE_KINDS = ['office', 'school', 'clinic', 'other'] as const;
export type SiteKind = (typeof SITE_KINDS)[number];

export interface Site {
  /** Human name, e.g. "Trường THCS Hợp Thành". */
  name: string;
  kind: SiteKind;
  technology: Technology;
  isp?: string;
  /** Administrative path, most general first: "province/district/commune", e.g. "Lạng Sơn/Cao Lộc/Hợp Thành". */
  area?: string;
  lat?: number;
  lon?: number;
  /**
   * The download speed the site's contract promises, Mbps (10^6 bit/s), when it declares one: a
   * test well above it cannot be the line's own and is left out of representative samples
   * (docs/verdicts.md).
   */
  contractMbps?: number;
}

/** Area paths: 1 to 4 non-empty levels separated by "/". */
const AREA = /^[^/]{1,100}(\/[^/]{1,100}){0,3}$/u;

export const siteSchema: Schema<Site> = object({
  name: string({ minLength: 1, maxLength: 200 }),
  kind: oneOf(SITE_KINDS),
  technology: oneOf(TECHNOLOGIES),
  isp: optional(string({ minLength: 1, maxLength: 100 })),
  area: optional(string({ pattern: AREA, patternName: 'an area path like "province/district/commune" (1 to 4 levels)' })),
  lat: optional(number({ min: -90, max: 90 })),
  lon: optional(number({ min: -180, max: 180 })),
  contractMbps: optional(number({ min: 0.1, max: 1_000_000 })),
});

/**
 * An area path in its one stored form: Unicode NFC (a decomposed "Lạng Sơn" and a composed one
 * are one area), each level trimmed with inner runs of white space made one space, levels
 * joined by "/" without spaces ("Lạng Sơn / Cao Lộc " → "Lạng Sơn/Cao Lộc"). Case is kept as
 * typed; `areaKey` compares without it.
 */
export function canonicalArea(area: string): string {
  return area
    .normalize('NFC')
    .split('/')
    .map((level) => level.trim().replace(/\s+/gu, ' '))
    .join('/');
}

/** The key two areas are the same under: canonical, then lower case (Vietnamese rules). */
export function areaKey(area: string): string {
  return canonicalArea(area).toLocaleLowerCase('vi');
}

/**
 * The key two areas are nearly the same under: as `areaKey`, without diacritics and with đ as
 * d, so "Lang Son" and "Lạng Sơn" meet. Two areas with one such key and different `areaKey`s
 * are probably one typed twice.
 */
export function areaLooseKey(area: string): string {
  return areaKey(area)
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .replace(/đ/g, 'd');
}

/** The levels of an area path, each as the path up to it: "a/b/c" → ["a", "a/b", "a/b/c"]. */
export function areaLevels(area: string): string[] {
  const parts = area.split('/');
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

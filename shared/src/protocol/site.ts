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
});

/** The levels of an area path, each as the path up to it: "a/b/c" → ["a", "a/b", "a/b/c"]. */
export function areaLevels(area: string): string[] {
  const parts = area.split('/');
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

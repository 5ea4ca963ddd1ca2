/**
 * Matching a typed area against the areas the collector already has, so that one place is not
 * split into several groups (each judged on its own, each short of the minimum-sample rule)
 * by case, spacing, Unicode form or a missing diacritic.
 */
import { areaKey, areaLooseKey, canonicalArea } from '@speedwatch/shared';

export interface AreaMatch {
  /** The area to store: an existing area's form when only case or spacing differ, else the canonical form. */
  area: string;
  /** When the area is new but close to an existing one (same letters without diacritics): that one. */
  nearDuplicateOf?: string;
}

export class AreaNames {
  readonly #byKey = new Map<string, string>();
  readonly #byLooseKey = new Map<string, string>();

  constructor(existing: Iterable<string>) {
    for (const area of existing) this.add(area);
  }

  /** Makes `area` known (after it was stored). */
  add(area: string): void {
    const key = areaKey(area);
    if (!this.#byKey.has(key)) this.#byKey.set(key, canonicalArea(area));
    const loose = areaLooseKey(area);
    if (!this.#byLooseKey.has(loose)) this.#byLooseKey.set(loose, canonicalArea(area));
  }

  match(typed: string): AreaMatch {
    const same = this.#byKey.get(areaKey(typed));
    if (same !== undefined) return { area: same };
    const area = canonicalArea(typed);
    const near = this.#byLooseKey.get(areaLooseKey(typed));
    return near === undefined ? { area } : { area, nearDuplicateOf: near };
  }
}

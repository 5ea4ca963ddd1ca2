/**
 * The `area_units` table (migration 7): administrative units by official code, each with its
 * name, its parent's code and the dates it was valid (`valid_from` inclusive, `valid_to`
 * exclusive, ms; NULL: open). A site named by a unit's code gets the path of names from the
 * province down, as of a date: the units of the time, not of today.
 */
import type { Db } from './database.js';
import { storeRead, storeWrite } from './store-error.js';

export interface AreaUnit {
  code: string;
  name: string;
  parentCode?: string;
  validFrom?: number;
  validTo?: number;
}

/** A row of `area_units`. */
export interface UnitRow {
  code: string;
  name: string;
  parent_code: string | null;
  valid_from: number | null;
  valid_to: number | null;
}

export function toUnit(row: UnitRow): AreaUnit {
  return {
    code: row.code,
    name: row.name,
    ...(row.parent_code === null ? {} : { parentCode: row.parent_code }),
    ...(row.valid_from === null ? {} : { validFrom: row.valid_from }),
    ...(row.valid_to === null ? {} : { validTo: row.valid_to }),
  };
}

/** The day `ms` falls on in Vietnam (UTC+7), YYYY-MM-DD: how unit dates are written. */
export function vietnamDate(ms: number): string {
  return new Date(ms + 7 * 3_600_000).toISOString().slice(0, 10);
}

/** Whether `unit` was valid at `at` (ms). */
export function validAt(unit: AreaUnit, at: number): boolean {
  return (unit.validFrom === undefined || unit.validFrom <= at) && (unit.validTo === undefined || at < unit.validTo);
}

/** Levels an area path may have (siteSchema's rule). */
const MAX_LEVELS = 4;

/**
 * The path of names from the top unit down to `code` (`Lạng Sơn/Cao Lộc/Hợp Thành`), as `units`
 * stood at `at`; a string naming the problem when the code is unknown, a unit on the way was
 * not valid then, or the chain is too deep or loops.
 */
export function areaPath(units: ReadonlyMap<string, AreaUnit>, code: string, at: number): { path: string } | { problem: string } {
  const names: string[] = [];
  const seen = new Set<string>();
  let current: string | undefined = code;
  while (current !== undefined) {
    const unit = units.get(current);
    if (unit === undefined) return { problem: current === code ? `no unit with code ${JSON.stringify(code)} (areas import loads them)` : `unit ${JSON.stringify(current)}, a parent of ${code}, is not in the registry` };
    if (!validAt(unit, at)) {
      const when = unit.validTo !== undefined && at >= unit.validTo ? `ended on ${vietnamDate(unit.validTo)}` : `starts on ${vietnamDate(unit.validFrom ?? 0)}`;
      return { problem: `unit ${unit.code} (${unit.name}) ${when}; name the unit valid on ${vietnamDate(at)}` };
    }
    if (seen.has(current) || names.length >= MAX_LEVELS) return { problem: `unit ${code}: its parents ${seen.has(current) ? 'loop' : `go deeper than ${MAX_LEVELS} levels`}` };
    seen.add(current);
    names.unshift(unit.name);
    current = unit.parentCode;
  }
  return { path: names.join('/') };
}

export class AreaUnits {
  readonly #path: string;
  readonly #db: Db;
  readonly #upsertTx: (units: readonly AreaUnit[]) => void;

  constructor(db: Db, path: string) {
    this.#path = path;
    this.#db = db;
    const upsert = db.prepare<[string, string, string | null, number | null, number | null]>(
      `INSERT INTO area_units (code, name, parent_code, valid_from, valid_to) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (code) DO UPDATE SET name = excluded.name, parent_code = excluded.parent_code, valid_from = excluded.valid_from, valid_to = excluded.valid_to`,
    );
    this.#upsertTx = db.transaction((units: readonly AreaUnit[]) => {
      for (const u of units) upsert.run(u.code, u.name, u.parentCode ?? null, u.validFrom ?? null, u.validTo ?? null);
    });
  }

  /** Adds or replaces units by code, one transaction. */
  upsert(units: readonly AreaUnit[]): void {
    storeWrite(this.#path, `import ${units.length} area units`, () => this.#upsertTx(units));
  }

  /** Every unit by code. */
  all(): Map<string, AreaUnit> {
    const rows = storeRead(this.#path, 'read the area units', () => this.#db.prepare<[], UnitRow>('SELECT code, name, parent_code, valid_from, valid_to FROM area_units ORDER BY code').all());
    return new Map(rows.map((r) => [r.code, toUnit(r)]));
  }
}

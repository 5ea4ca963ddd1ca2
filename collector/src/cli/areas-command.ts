/** `speedwatch-collector areas import|list`: the optional registry of administrative units (docs/fleet.md). */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from '@speedwatch/shared';
import { AreaUnitsFileError, parseAreaUnitsFile, vietnamDay } from '../sites/area-units-file.js';
import { areaPath, validAt, vietnamDate } from '../store/area-units.js';
import { openStore } from '../store/sqlite-store.js';
import { args, needDb } from './cli-args.js';

export const AREAS_USAGE = `  areas import FILE.csv --db PATH
        load administrative units (header: code,name[,parent_code,valid_from,valid_to]; dates
        YYYY-MM-DD, valid_to the first day a unit no longer exists); units already there are replaced
  areas list --db PATH [--at YYYY-MM-DD]
        the units valid on that day (default today), each with its path of names`;

function day(ms: number | undefined): string {
  return ms === undefined ? '-' : vietnamDate(ms);
}

export async function areasCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'import': {
      const { values, positionals } = args(() => parseArgs({ args: rest, strict: true, allowPositionals: true, options: { db: { type: 'string' } } }));
      const [file, extra] = positionals;
      if (file === undefined || extra !== undefined) throw new UsageError('areas import takes exactly one FILE.csv');
      const db = needDb(values.db);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new UsageError(`cannot read ${file} (${(err as { code?: string }).code ?? String(err)})`);
      }
      const store = openStore(db);
      try {
        const known = store.areaUnits.all();
        let units;
        try {
          units = parseAreaUnitsFile(file, text, (code) => known.has(code));
        } catch (err) {
          if (err instanceof AreaUnitsFileError) {
            process.stderr.write(`speedwatch-collector: ${err.message}\n`);
            return 1;
          }
          throw err;
        }
        // Every unit's chain must resolve at some moment it is valid: no loop, no missing parent.
        const merged = new Map(known);
        for (const unit of units) merged.set(unit.code, unit);
        const problems = units.flatMap((u) => {
          const at = u.validFrom ?? (u.validTo === undefined ? Date.now() : u.validTo - 1);
          const path = areaPath(merged, u.code, at);
          return 'problem' in path ? [`  - ${u.code}: ${path.problem}`] : [];
        });
        if (problems.length > 0) {
          process.stderr.write(`speedwatch-collector: ${file}: cannot import:\n${problems.join('\n')}\n`);
          return 1;
        }
        store.areaUnits.upsert(units);
        process.stderr.write(`${units.length} area units imported from ${file} (${merged.size} in the registry)\n`);
      } finally {
        store.close();
      }
      return 0;
    }
    case 'list': {
      const { values } = args(() => parseArgs({ args: rest, strict: true, options: { db: { type: 'string' }, at: { type: 'string' } } }));
      const at = values.at === undefined ? Date.now() : vietnamDay(values.at);
      if (at === undefined) throw new UsageError('--at: expected a date YYYY-MM-DD');
      const store = openStore(needDb(values.db));
      try {
        const units = store.areaUnits.all();
        for (const unit of units.values()) {
          if (!validAt(unit, at)) continue;
          const path = areaPath(units, unit.code, at);
          process.stdout.write(`${unit.code}\t${'path' in path ? path.path : `? ${path.problem}`}\t${day(unit.validFrom)}\t${day(unit.validTo)}\n`);
        }
      } finally {
        store.close();
      }
      return 0;
    }
    default:
      throw new UsageError(`unknown areas command ${JSON.stringify(sub ?? '')}; expected import or list`);
  }
}

/** Small pieces every speedwatch-collector command uses to read its argv. */
import { UsageError } from '@speedwatch/shared';

/** Runs parseArgs, turning its errors into UsageError (one line, then the usage). */
export function args<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

export function needDb(db: unknown): string {
  if (typeof db !== 'string' || db === '') throw new UsageError('--db PATH is required');
  return db;
}

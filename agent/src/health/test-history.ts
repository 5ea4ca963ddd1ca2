/**
 * The daemon's recent tests as `health` reports them: the latest one's status and error code,
 * how many in a row failed, and when the latest `ok` one finished. Kept in memory since the
 * daemon started (a restart forgets it: the collector's stored results are the long record).
 */
import type { HealthLastTest, MeasurementResult } from '@speedwatch/shared';

export interface TestFigures {
  lastTest?: HealthLastTest;
  failedTestsInARow?: number;
  lastOkTestAt?: string;
}

export class TestHistory {
  #last: HealthLastTest | undefined;
  #failedInARow = 0;
  #lastOkAt: string | undefined;

  /** Records a test that finished (any status). */
  record(result: Pick<MeasurementResult, 'status' | 'finishedAt' | 'error'>): void {
    this.#last = { status: result.status, finishedAt: result.finishedAt, ...(result.error === undefined ? {} : { errorCode: result.error.code }) };
    this.#failedInARow = result.status === 'failed' ? this.#failedInARow + 1 : 0;
    if (result.status === 'ok') this.#lastOkAt = result.finishedAt;
  }

  /** Nothing before the first test. */
  figures(): TestFigures {
    if (this.#last === undefined) return {};
    return { lastTest: { ...this.#last }, failedTestsInARow: this.#failedInARow, ...(this.#lastOkAt === undefined ? {} : { lastOkTestAt: this.#lastOkAt }) };
  }
}

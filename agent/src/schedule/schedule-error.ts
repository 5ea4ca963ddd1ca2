import { OptionsError } from '@speedwatch/shared';
import type { Problem } from '@speedwatch/shared';

/** Scheduler options out of range or of the wrong type; `problems` lists every one with its key (docs/errors.md). */
export class ScheduleOptionsError extends OptionsError {
  constructor(problems: readonly Problem[]) {
    super('SW_SCHEDULE_OPTIONS', 'scheduler options are not valid', problems);
    this.name = 'ScheduleOptionsError';
  }
}

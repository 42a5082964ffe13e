// The common Go-duration parser, its errors as the scheduler's (with the field).

import { parseGoDurationMs as parse } from '../../common/go-duration.js';
import { ScheduleError } from './schedule-error.js';

/** Milliseconds in a Go duration string; throws ScheduleError on anything else. */
export function parseGoDurationMs(text: string): number {
  try {
    return parse(text);
  } catch (err) {
    throw new ScheduleError((err as Error).message, 'duration');
  }
}

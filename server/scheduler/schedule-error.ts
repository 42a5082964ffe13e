// The scheduler's typed error: a schedule, duration or time zone it cannot use.

export class ScheduleError extends Error {
  override readonly name = 'ScheduleError';
  readonly code = 'CT_SCHEDULE_INVALID';
  constructor(message: string, readonly field: 'schedule' | 'timezone' | 'duration' = 'schedule') {
    super(message);
  }
}

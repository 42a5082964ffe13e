// The scheduler's public surface: schedule evaluation and the due-fire planner.
export { parseSchedule, nextFire, type Schedule } from './schedule.js';
export { describeSchedule } from './describe-schedule.js';
export { dueFires, firstAfter, onTimeGraceMs, type DueInput, type DuePlan, type SkippedRange } from './plan-fires.js';
export { parseGoDurationMs } from './go-duration.js';
export { validateTimeZone } from './time-zone.js';
export { ScheduleError } from './schedule-error.js';

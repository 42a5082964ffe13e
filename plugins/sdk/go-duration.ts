// Go durations for plugin authors: the one parser lives in common/.
export { DurationError, parseGoDurationMs } from '../../common/go-duration.js';

// Quarter 1 of the suite's simulation seeds (see sim-seed-range.ts).
import { simSeedQuarter } from './sim-seed-range.js';

simSeedQuarter(1);

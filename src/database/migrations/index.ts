import { Channels1764140000000 } from './1764140000000-Channels.js';

/**
 * Every migration, oldest first. Listed by hand rather than globbed so the same
 * list works from `dist/` (runtime, CLI) and from `src/` (Jest).
 */
export const migrations = [Channels1764140000000];

import { Channels1764140000000 } from './1764140000000-Channels.js';
import { Jobs1764150000000 } from './1764150000000-Jobs.js';
import { MessageDataJson1764160000000 } from './1764160000000-MessageDataJson.js';
import { JobEventsInline1764170000000 } from './1764170000000-JobEventsInline.js';
import { Namespaces1764200000000 } from './1764200000000-Namespaces.js';
import { JobOwner1764210000000 } from './1764210000000-JobOwner.js';

/**
 * Every migration, oldest first. Listed by hand rather than globbed so the same
 * list works from `dist/` (runtime, CLI) and from `src/` (Jest).
 */
export const migrations = [
  Channels1764140000000,
  Jobs1764150000000,
  MessageDataJson1764160000000,
  JobEventsInline1764170000000,
  Namespaces1764200000000,
  JobOwner1764210000000,
];

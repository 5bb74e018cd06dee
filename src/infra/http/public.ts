import { SetMetadata } from '@nestjs/common';

/** Metadata key read by the authentication guard (src/auth/auth.guard.ts). */
export const IS_PUBLIC = 'squall:public';

/**
 * A route any client may call without a token: health probes, the API docs,
 * static pages. Lives in infra so infrastructure controllers can say it
 * without knowing the auth feature.
 */
export const Public = () => SetMetadata(IS_PUBLIC, true);

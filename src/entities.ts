import { ChannelEntity } from './channels/entities/channel.entity.js';
import { MessageEntity } from './channels/entities/message.entity.js';
import { JobEntity } from './jobs/entities/job.entity.js';
import { NamespaceEntity } from './namespaces/namespace.entity.js';

/**
 * Every entity, for the migration CLI and the schema check
 * (test/foundation/schema.test.ts), which fails when the tables the
 * migrations build differ from what these entities describe.
 */
export const entities = [ChannelEntity, MessageEntity, JobEntity, NamespaceEntity];

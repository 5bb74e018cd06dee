import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { ChannelEntity } from './channel.entity.js';

/**
 * A published message. `(channel, seq)` is the key every reader walks; the
 * partial unique index makes `idempotency_key` a per-channel dedupe key.
 */
@Entity({ name: 'messages' })
@Index('messages_idempotency_key_uq', ['channel', 'idempotencyKey'], {
  unique: true,
  where: 'idempotency_key IS NOT NULL',
})
@Index('messages_published_at_idx', ['publishedAt'])
export class MessageEntity {
  @PrimaryColumn({ type: 'varchar', length: 128 })
  channel!: string;

  @ManyToOne(() => ChannelEntity, { onDelete: 'CASCADE', createForeignKeyConstraints: true })
  @JoinColumn({
    name: 'channel',
    referencedColumnName: 'name',
    foreignKeyConstraintName: 'messages_channel_fkey',
  })
  channelRow?: Relation<ChannelEntity>;

  @PrimaryColumn({ type: 'bigint' })
  seq!: string;

  @Column({ type: 'uuid', unique: true })
  id!: string;

  /** `json`: the published text, byte for byte (see the MessageDataJson migration). */
  @Column({ type: 'json' })
  data!: unknown;

  @Column({ name: 'idempotency_key', type: 'varchar', length: 128, nullable: true })
  idempotencyKey!: string | null;

  @Column({ name: 'published_at', type: 'timestamptz', default: () => 'now()' })
  publishedAt!: Date;
}

import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** One row per channel ever written; `last_seq` is the sequence counter publishes bump. */
@Entity({ name: 'channels' })
export class ChannelEntity {
  @PrimaryColumn({ type: 'varchar', length: 128 })
  name!: string;

  @Column({ name: 'last_seq', type: 'bigint', default: 0 })
  lastSeq!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

import { Check, Column, CreateDateColumn, Entity, PrimaryColumn, Unique, UpdateDateColumn } from 'typeorm';

/**
 * Settings of a channel namespace (the part of a channel name before its
 * first `:`), applied by the channel core to every channel in it. A column
 * left NULL falls back to the instance-wide default.
 *
 * The pattern to copy for a resource: the entity is the schema's description
 * (a CI test checks that the migrations produce exactly it), ids are made by
 * the application (`randomUUID`, no Postgres extension), and constraints live
 * in the database too, so a bug that bypasses validation still gets a 4xx.
 */
@Entity({ name: 'namespaces' })
@Unique('namespaces_name_key', ['name'])
@Check('namespaces_history_max_per_channel_check', '"history_max_per_channel" >= 0')
@Check('namespaces_history_ttl_seconds_check', '"history_ttl_seconds" >= 0')
export class NamespaceEntity {
  @PrimaryColumn({ type: 'uuid', primaryKeyConstraintName: 'namespaces_pkey' })
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  name!: string;

  /** False: only the service itself (jobs, say) may publish; clients get 403. */
  @Column({ name: 'client_publish', type: 'boolean', default: true })
  clientPublish!: boolean;

  @Column({ name: 'history_max_per_channel', type: 'integer', nullable: true })
  historyMaxPerChannel!: number | null;

  @Column({ name: 'history_ttl_seconds', type: 'integer', nullable: true })
  historyTtlSeconds!: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

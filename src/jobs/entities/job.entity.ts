import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { JobState } from '../job-state.js';

/**
 * A job: the source of truth the API reads. Its id is also the BullMQ job id.
 * The store talks SQL directly (conditional UPDATEs are the state machine);
 * this entity exists so the schema is declared next to the code and
 * `migration:generate` can diff it. The migration also adds the CHECKs and the
 * partial indexes TypeORM cannot express.
 */
@Entity({ name: 'jobs' })
@Index('jobs_created_idx', ['createdAt', 'id'])
@Index('jobs_state_created_idx', ['state', 'createdAt', 'id'])
@Index('jobs_type_created_idx', ['type', 'createdAt', 'id'])
@Index('jobs_owner_created_idx', ['owner', 'createdAt', 'id'], { where: 'owner IS NOT NULL' })
// NULLS NOT DISTINCT in the migration (TypeORM cannot say it): open mode's owner-less jobs share one key space.
@Index('jobs_owner_idempotency_key_uq', ['owner', 'idempotencyKey'], {
  unique: true,
  where: 'idempotency_key IS NOT NULL',
})
@Index('jobs_check_due_idx', ['checkAt'], { where: "state IN ('queued', 'active')" })
@Index('jobs_finished_idx', ['finishedAt'], { where: 'finished_at IS NOT NULL' })
@Check('jobs_state_ck', "state IN ('queued', 'active', 'completed', 'failed', 'cancelled')")
@Check('jobs_progress_ck', 'progress BETWEEN 0 AND 100')
@Check('jobs_max_attempts_ck', 'max_attempts >= 1')
export class JobEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  type!: string;

  @Column({ type: 'varchar', length: 16, default: 'queued' })
  state!: JobState;

  @Column({ type: 'smallint', default: 0 })
  progress!: number;

  @Column({ type: 'jsonb' })
  payload!: unknown;

  @Column({ type: 'jsonb', nullable: true })
  result!: unknown;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({ name: 'max_attempts', type: 'int' })
  maxAttempts!: number;

  @Column({ type: 'int', default: 0 })
  priority!: number;

  @Column({ name: 'delay_ms', type: 'bigint', default: 0 })
  delayMs!: string;

  @Column({ name: 'idempotency_key', type: 'varchar', length: 128, nullable: true })
  idempotencyKey!: string | null;

  /** The token `sub` that submitted the job: only it and admins see the job. Null in open mode. */
  @Column({ type: 'text', nullable: true })
  owner!: string | null;

  /** The running attempt's token; every write of that attempt is fenced by it. */
  @Column({ type: 'uuid', nullable: true })
  lease!: string | null;

  /** Until when the running attempt's lease holds unless its worker renews it (heartbeat). */
  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true })
  leaseExpiresAt!: Date | null;

  /** When the reconciler is next due to compare this pending row with BullMQ. */
  @Column({ name: 'check_at', type: 'timestamptz', default: () => 'now()' })
  checkAt!: Date;

  @Column({ name: 'run_at', type: 'timestamptz' })
  runAt!: Date;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;
}

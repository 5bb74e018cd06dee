import { IsBoolean, IsInt, Matches, Max, Min } from 'class-validator';
import { NullAsAbsent, Nullable } from '../../infra/http/validation/null-as-absent.js';

/** A namespace name: what comes before the first `:` of a channel name. */
export const NAMESPACE_NAME = /^[A-Za-z0-9_\-.]{1,64}$/;

/**
 * The settings of a namespace, as PATCH takes them: every field optional.
 * `null` on a nullable field clears it (back to the instance default).
 */
export class NamespaceSettingsDto {
  @NullAsAbsent()
  @IsBoolean()
  clientPublish?: boolean;

  @Nullable()
  @IsInt()
  @Min(0)
  @Max(1_000_000_000)
  historyMaxPerChannel?: number | null;

  @Nullable()
  @IsInt()
  @Min(0)
  @Max(10 * 365 * 24 * 3600)
  historyTtlSeconds?: number | null;
}

/** POST body: the name and any settings. */
export class CreateNamespaceDto extends NamespaceSettingsDto {
  @Matches(NAMESPACE_NAME, { message: 'name must be 1-64 characters of A-Z a-z 0-9 _ - . (no colon)' })
  name!: string;
}

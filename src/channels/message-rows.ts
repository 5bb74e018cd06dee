import { Envelope } from './envelope.js';

// How messages are read from Postgres, shared by the reads and the group
// commit. Aliases differ from column names on purpose: `ORDER BY seq` must
// sort the bigint column, not a text alias of it.
export const ROW_COLUMNS = `seq::text AS seq_text, id, data::text AS data_text,
  to_char(published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS published_at`;

export interface Row {
  seq_text: string;
  id: string;
  data_text: string;
  published_at: string;
}

export type CreatedRow = Row & { channel: string };

/** A message row as an envelope; `data` stays JSON text, never parsed. */
export const rowToEnvelope = (channel: string, row: Row): Envelope =>
  Envelope.fromRow(channel, Number(row.seq_text), row.id, row.data_text, row.published_at);

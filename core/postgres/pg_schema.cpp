#include "pg_schema.h"

namespace rtpush {

const char* const kPgSchema = R"sql(
CREATE TABLE IF NOT EXISTS rtpush_messages (
  channel      text        NOT NULL,
  id           text        NOT NULL,
  id_ms        bigint      NOT NULL,
  id_seq       bigint      NOT NULL,
  data         json,
  data_bin     bytea,
  published_at timestamptz NOT NULL,
  publisher    text,
  PRIMARY KEY (channel, id)
);
-- A table made by an earlier build gets the column; old rows have none.
-- Looked up first: ALTER TABLE takes an exclusive lock even when the column
-- is there, and would queue every replay read behind a running one.
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'rtpush_messages'::regclass
                 AND attname = 'publisher' AND NOT attisdropped) THEN
    ALTER TABLE rtpush_messages ADD COLUMN IF NOT EXISTS publisher text;
  END IF;
END $$;
CREATE INDEX IF NOT EXISTS rtpush_messages_replay ON rtpush_messages (channel, id_ms, id_seq);
CREATE TABLE IF NOT EXISTS rtpush_dead_letters (
  channel      text        NOT NULL,
  id           text        NOT NULL,
  id_ms        bigint      NOT NULL,
  id_seq       bigint      NOT NULL,
  data         text        NOT NULL,
  kind         text        NOT NULL,
  published_at timestamptz NOT NULL,
  error        text        NOT NULL,
  sqlstate     text        NOT NULL,
  failed_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel, id)
);
)sql";

}  // namespace rtpush

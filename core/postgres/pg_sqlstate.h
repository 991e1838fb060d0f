// Whose fault a PostgreSQL error is, by its SQLSTATE: a row's (PostgreSQL
// refuses that row: retrying it changes nothing, so it becomes a dead
// letter) or no row's (the link, the server's resources, an operator: keep
// every row and retry later with backoff). See docs/persistence.md.
#pragma once

namespace rtpush {

enum class PgFault {
  Row,     // a data exception, a constraint, a trigger that raised, ...
  Server,  // connection lost, disk full, shutdown, rollback, privileges, ...
};

// `sqlstate`: the five characters of PG_DIAG_SQLSTATE; null or malformed
// (no answer at all: the link broke) counts as the server's.
PgFault classify_sqlstate(const char* sqlstate);

}  // namespace rtpush

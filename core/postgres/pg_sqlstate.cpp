#include "pg_sqlstate.h"

#include <cstring>

namespace rtpush {

PgFault classify_sqlstate(const char* s) {
  if (!s || std::strlen(s) != 5) return PgFault::Server;
  // Classes of errors that come from the values of the rows (PostgreSQL
  // Appendix A). Everything else, and any class added later, is treated as
  // no row's fault: rows are kept, never dead-lettered by mistake.
  static const char* const kRowClasses[] = {
      "09",  // triggered action exception
      "21",  // cardinality violation
      "22",  // data exception: a type it will not take, a value out of range
      "23",  // integrity constraint: CHECK, NOT NULL, FOREIGN KEY, a UNIQUE index
      "27",  // triggered data change violation
      "2F",  // SQL routine exception (a function in a constraint or trigger)
      "38",  // external routine exception
      "39",  // external routine invocation exception
      "44",  // WITH CHECK OPTION violation
      "54",  // program limit exceeded (a value too large to index, ...)
      "P0",  // PL/pgSQL: RAISE EXCEPTION, ASSERT in a trigger
  };
  for (const char* c : kRowClasses)
    if (s[0] == c[0] && s[1] == c[1]) return PgFault::Row;
  return PgFault::Server;
}

}  // namespace rtpush

// Whose fault a PostgreSQL error is: a refused row becomes a dead letter,
// anything else keeps every row and retries. A wrong answer either loses a
// good row to the dead letters or stops the writer for good.
#include <initializer_list>

#include "cmocka_cpp.h"
#include "pg_sqlstate.h"

using rtpush::classify_sqlstate;
using rtpush::PgFault;

static void refused_rows_are_the_rows_fault(void**) {
  for (const char* s : {"23514",   // check_violation (an operator's CHECK)
                        "23502",   // not_null_violation
                        "23503",   // foreign_key_violation
                        "23505",   // unique_violation on an index other than the key (the writer retries the key's first)
                        "22P02",   // invalid_text_representation (json it will not take)
                        "22021",   // character_not_in_repertoire
                        "22003",   // numeric_value_out_of_range
                        "P0001",   // RAISE EXCEPTION in a trigger
                        "P0004",   // ASSERT in a trigger
                        "27000", "09000", "2F005", "38001", "39P01", "44000",
                        "54000"})  // program_limit_exceeded (a value too large to index)
    assert_int_equal(static_cast<int>(classify_sqlstate(s)), static_cast<int>(PgFault::Row));
}

static void server_errors_keep_the_rows(void**) {
  for (const char* s : {"08006",   // connection_failure
                        "08000", "57P01",  // admin_shutdown
                        "57014",   // query_canceled
                        "53100",   // disk_full
                        "53200",   // out_of_memory
                        "53300",   // too_many_connections
                        "58030",   // io_error
                        "40001",   // serialization_failure
                        "40P01",   // deadlock_detected
                        "42501",   // insufficient_privilege: the operator's to fix, not the row's
                        "42P01",   // undefined_table (dropped under the writer)
                        "25006",   // read_only_sql_transaction (a standby)
                        "XX000", "0A000", "F0000", "HV000", "72000"})
    assert_int_equal(static_cast<int>(classify_sqlstate(s)), static_cast<int>(PgFault::Server));
}

static void no_answer_is_the_servers_fault(void**) {
  assert_int_equal(static_cast<int>(classify_sqlstate(nullptr)), static_cast<int>(PgFault::Server));
  assert_int_equal(static_cast<int>(classify_sqlstate("")), static_cast<int>(PgFault::Server));
  assert_int_equal(static_cast<int>(classify_sqlstate("23")), static_cast<int>(PgFault::Server));
  assert_int_equal(static_cast<int>(classify_sqlstate("235140")), static_cast<int>(PgFault::Server));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(refused_rows_are_the_rows_fault),
      cmocka_unit_test(server_errors_keep_the_rows),
      cmocka_unit_test(no_answer_is_the_servers_fault),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

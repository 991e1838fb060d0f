// Ids: parsing, formatting, ordering as integer pairs, and generation.
#include <string>

#include "cmocka_cpp.h"
#include "stream_id.h"

using rtpush::StreamId;

static void parses_and_formats(void**) {
  auto id = StreamId::parse("1732480000123-7");
  assert_true(id.has_value());
  assert_int_equal(id->ms, 1732480000123ULL);
  assert_int_equal(id->seq, 7);
  assert_string_equal(id->str().c_str(), "1732480000123-7");
  auto bare = StreamId::parse("42");
  assert_true(bare && bare->ms == 42 && bare->seq == 0);
  const StreamId max{18446744073709551615ULL, 18446744073709551615ULL};
  assert_string_equal(max.str().c_str(), "18446744073709551615-18446744073709551615");
}

static void rejects_malformed(void**) {
  for (const char* bad : {"", "-", "1-", "-1", "a-1", "1-b", "1-2-3", " 1-2", "1-2 ", "+1-2",
                          "99999999999999999999999-1", "1.5-0"})
    assert_false(StreamId::parse(bad).has_value());
}

static void orders_as_integer_pairs_not_strings(void**) {
  // As strings "9-0" > "10-0"; as ids it is smaller.
  assert_true(*StreamId::parse("9-0") < *StreamId::parse("10-0"));
  assert_true(*StreamId::parse("10-9") < *StreamId::parse("10-10"));
  assert_true(*StreamId::parse("10-0") == *StreamId::parse("10"));
  assert_true((StreamId{5, 1} > StreamId{5, 0}));
}

static void next_id_follows_clock_and_never_goes_back(void**) {
  StreamId last{};
  StreamId a = rtpush::next_stream_id(last, 1000);
  assert_true((a == StreamId{1000, 0}));
  StreamId b = rtpush::next_stream_id(a, 1000);  // same ms
  assert_true((b == StreamId{1000, 1}));
  StreamId c = rtpush::next_stream_id(b, 999);  // clock stepped back
  assert_true((c == StreamId{1000, 2}));
  StreamId d = rtpush::next_stream_id(c, 1001);
  assert_true((d == StreamId{1001, 0}));
  StreamId max{7, 18446744073709551615ULL};
  assert_true((max.successor() == StreamId{8, 0}));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_and_formats),
      cmocka_unit_test(rejects_malformed),
      cmocka_unit_test(orders_as_integer_pairs_not_strings),
      cmocka_unit_test(next_id_follows_clock_and_never_goes_back),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

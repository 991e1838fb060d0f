// Option parsing: defaults, every option, bad values named in the error.
#include <cstring>
#include <string>

#include "cmocka_cpp.h"
#include "options.h"

using rtpush::parse_options;

static void defaults_match_the_spec(void**) {
  auto r = parse_options({}, "host:1");
  assert_true(r.ok);
  const auto& o = r.options;
  assert_string_equal(o.node_id.c_str(), "host:1");
  assert_true(o.redis.empty() && o.postgres.empty());
  assert_int_equal(o.history_size, 1000);
  assert_int_equal(o.heartbeat_secs, 25);
  assert_int_equal(o.heartbeat_timeout_secs, 60);
  assert_int_equal(o.max_message_bytes, 1048576);
  assert_int_equal(o.send_queue_bytes, 4194304);
  assert_int_equal(o.pg_batch_size, 1000);
  assert_int_equal(o.pg_flush_ms, 100);
  assert_int_equal(o.history_memory_bytes, 268435456);
  assert_int_equal(o.history_ttl_secs, 86400);
  assert_int_equal(o.max_channels_per_connection, 256);
  assert_int_equal(o.publish_rate, 0);
  assert_int_equal(o.receive_timeout_secs, 10);
  assert_int_equal(o.pg_backlog_rows, 1000000);
  assert_int_equal(o.pg_backlog_bytes, 268435456);
  assert_int_equal(o.replay_memory_bytes, 67108864);
  assert_int_equal(o.stop_timeout_secs, 10);
  assert_int_equal(o.history_channel_bytes, 67108864);
  assert_int_equal(o.receive_bytes_per_sec, 1048576);
  // SPEC section 8: with none of the identity options, everything is open.
  assert_true(o.jwt_secret_file.empty() && o.jwt_public_key_file.empty());
  assert_true(o.jwt_audience.empty() && o.jwt_issuer.empty());
  assert_false(o.auth_required);
  assert_true(o.channels_file.empty() && o.api_key_file.empty());
  assert_true(o.allowed_origins.empty());
  assert_false(o.compression);  // SPEC section 3: off by default
}

static void identity_options_are_read(void**) {
  auto r = parse_options({{"jwt-secret-file", "/etc/s"}, {"jwt-public-key-file", "/etc/k.pem"},
                          {"jwt-audience", "app"}, {"jwt-issuer", "https://id.example"}, {"auth", "required"},
                          {"channels-file", "/etc/ch.json"}, {"api-key-file", "/etc/api"},
                          {"allowed-origins", " https://app.example.com ,http://localhost:8080,https://[::1]:443"}},
                         "d");
  assert_true(r.ok);
  const auto& o = r.options;
  assert_string_equal(o.jwt_secret_file.c_str(), "/etc/s");
  assert_string_equal(o.jwt_public_key_file.c_str(), "/etc/k.pem");
  assert_string_equal(o.jwt_audience.c_str(), "app");
  assert_string_equal(o.jwt_issuer.c_str(), "https://id.example");
  assert_true(o.auth_required);
  assert_string_equal(o.channels_file.c_str(), "/etc/ch.json");
  assert_string_equal(o.api_key_file.c_str(), "/etc/api");
  assert_int_equal(o.allowed_origins.size(), 3);
  assert_string_equal(o.allowed_origins[0].c_str(), "https://app.example.com");
  assert_string_equal(o.allowed_origins[1].c_str(), "http://localhost:8080");
  assert_string_equal(o.allowed_origins[2].c_str(), "https://[::1]:443");

  auto optional = parse_options({{"auth", "optional"}, {"allowed-origins", "https://a.example"}}, "d");
  assert_true(optional.ok);
  assert_false(optional.options.auth_required);
  assert_int_equal(optional.options.allowed_origins.size(), 1);
}

// Each bad identity option is refused with an error naming it and saying why.
static void bad_identity_values_are_errors(void**) {
  struct { const char* name; const char* value; const char* why; } bad[] = {
      {"auth", "yes", "neither optional nor required"},
      {"auth", "Required", "neither optional nor required"},
      {"auth", "", "neither optional nor required"},
      {"allowed-origins", "", "empty item"},
      {"allowed-origins", "https://a.example,", "empty item"},
      {"allowed-origins", "https://a.example, ,https://b.example", "empty item"},
      {"allowed-origins", "a.example", "not an origin"},
      {"allowed-origins", "https://a.example/", "not an origin"},
      {"allowed-origins", "https://a.example/app", "not an origin"},
      {"allowed-origins", "https://", "not an origin"},
      {"allowed-origins", "https://a.example:", "not an origin"},
      {"allowed-origins", "https://a.example:99999", "not an origin"},
      {"allowed-origins", "https://a.example:8x", "not an origin"},
      {"allowed-origins", "https://user@a.example", "not an origin"},
      {"allowed-origins", "https://a.example?x", "not an origin"},
      {"allowed-origins", "://a.example", "not an origin"},
      {"allowed-origins", "https://[::1", "not an origin"},
      {"allowed-origins", "https://a b.example", "not an origin"},
      {"jwt-secret-file", "", "must not be empty"},
      {"jwt-public-key-file", "", "must not be empty"},
      {"jwt-audience", "", "must not be empty"},
      {"jwt-issuer", "", "must not be empty"},
      {"channels-file", "", "must not be empty"},
      {"api-key-file", "", "must not be empty"},
  };
  bool failed = false;
  for (const auto& b : bad) {
    auto r = parse_options({{b.name, b.value}}, "d");
    if (r.ok || r.error.cause.rfind(b.name, 0) != 0 || r.error.cause.find(b.why) == std::string::npos ||
        r.error.option != b.name) {
      print_error("%s=\"%s\": ok=%d error \"%s\"\n", b.name, b.value, r.ok, r.error.cause.c_str());
      failed = true;
    }
  }
  assert_false(failed);
}

static void every_option_is_read(void**) {
  auto r = parse_options({{"redis", "redis://127.0.0.1:6379/2"}, {"postgres", "dbname=x"}, {"node-id", "n1"},
                          {"history-size", "10"}, {"heartbeat-secs", "2"}, {"heartbeat-timeout-secs", "5"},
                          {"max-message-bytes", "1000"}, {"send-queue-bytes", "65536"},
                          {"pg-batch-size", "50"}, {"pg-flush-ms", "20"}, {"history-memory-bytes", "0"},
                          {"history-ttl-secs", "0"}, {"max-channels-per-connection", "3"}, {"publish-rate", "7"},
                          {"receive-timeout-secs", "4"}, {"pg-backlog-rows", "11"},
                          {"replay-memory-bytes", "2097152"}},
                         "d");
  assert_true(r.ok);
  const auto& o = r.options;
  assert_string_equal(o.redis.c_str(), "redis://127.0.0.1:6379/2");
  assert_string_equal(o.postgres.c_str(), "dbname=x");
  assert_string_equal(o.node_id.c_str(), "n1");
  assert_int_equal(o.history_size, 10);
  assert_int_equal(o.heartbeat_secs, 2);
  assert_int_equal(o.heartbeat_timeout_secs, 5);
  assert_int_equal(o.max_message_bytes, 1000);
  assert_int_equal(o.send_queue_bytes, 65536);
  assert_int_equal(o.pg_batch_size, 50);
  assert_int_equal(o.pg_flush_ms, 20);
  assert_int_equal(o.history_memory_bytes, 0);
  assert_int_equal(o.history_ttl_secs, 0);
  assert_int_equal(o.max_channels_per_connection, 3);
  assert_int_equal(o.publish_rate, 7);
  assert_int_equal(o.receive_timeout_secs, 4);
  assert_int_equal(o.pg_backlog_rows, 11);
  assert_int_equal(o.replay_memory_bytes, 2097152);
}

static void bad_values_are_errors_that_name_the_option(void**) {
  struct { const char* name; const char* value; } bad[] = {
      {"history-size", "lots"}, {"history-size", "-1"}, {"heartbeat-secs", "0"}, {"heartbeat-secs", ""},
      {"heartbeat-timeout-secs", "1.5"}, {"max-message-bytes", "99999999999"}, {"send-queue-bytes", "10"},
      {"pg-batch-size", "0"}, {"pg-batch-size", "100001"}, {"redis", "127.0.0.1:6379"}, {"node-id", ""},
      {"max-channels-per-connection", "0"}, {"receive-timeout-secs", "0"}, {"pg-backlog-rows", "0"},
      {"replay-memory-bytes", "1000"}, {"publish-rate", "x"},
      // past what a replay waits for the rows before it (5 s): replays would fail
      {"pg-flush-ms", "2001"}, {"pg-flush-ms", "0"},
  };
  for (const auto& b : bad) {
    auto r = parse_options({{b.name, b.value}}, "d");
    assert_false(r.ok);
    assert_non_null(strstr(r.error.cause.c_str(), b.name));
    assert_string_equal(r.error.option.c_str(), b.name);
  }
}

// pg-backlog-bytes: 1 MiB (a message of the default max-message-bytes) to 1 TiB.
static void pg_backlog_bytes_at_its_bounds(void**) {
  struct { const char* value; bool ok; } cases[] = {
      {"1048576", true}, {"1099511627776", true}, {"1048575", false}, {"1099511627777", false}, {"0", false},
      {"", false}, {"1e9", false},
  };
  for (const auto& c : cases) {
    auto r = parse_options({{"pg-backlog-bytes", c.value}}, "d");
    assert_int_equal(r.ok, c.ok);
    if (c.ok) assert_int_equal(r.options.pg_backlog_bytes, std::stoull(c.value));
    else assert_non_null(strstr(r.error.cause.c_str(), "pg-backlog-bytes"));
  }
}

static void unknown_options_warn_and_lws_ones_pass(void**) {
  auto r = parse_options({{"histroy-size", "5"}, {"default", "1"}, {"status", "ok"}}, "d");
  assert_true(r.ok);
  assert_int_equal(r.warnings.size(), 1);
  assert_non_null(strstr(r.warnings[0].c_str(), "histroy-size"));
}

// compression: exactly "on" or "off" (SPEC section 3).
static void compression_is_on_or_off(void**) {
  auto on = parse_options({{"compression", "on"}}, "d");
  assert_true(on.ok);
  assert_true(on.options.compression);
  assert_true(on.warnings.empty());
  auto off = parse_options({{"compression", "on"}, {"compression", "off"}}, "d");
  assert_true(off.ok);
  assert_false(off.options.compression);
  for (const char* bad : {"yes", "true", "1", "", "ON", "deflate"}) {
    auto r = parse_options({{"compression", bad}}, "d");
    assert_false(r.ok);
    assert_non_null(strstr(r.error.cause.c_str(), "compression"));
  }
}

// stop-timeout-secs: 1 to 60 (README), both ends accepted and read, just
// outside either refused by name. Past 60 the stop could outlast systemd's
// TimeoutStopSec (90 s) and be SIGKILLed with rows unwritten.
static void stop_timeout_secs_is_1_to_60(void**) {
  for (unsigned secs : {1u, 60u}) {
    auto r = parse_options({{"stop-timeout-secs", std::to_string(secs)}}, "d");
    assert_true(r.ok);
    assert_int_equal(r.options.stop_timeout_secs, secs);
  }
  for (const char* bad : {"0", "61", "-1", "1.5", ""}) {
    auto r = parse_options({{"stop-timeout-secs", bad}}, "d");
    assert_false(r.ok);
    assert_non_null(strstr(r.error.cause.c_str(), "stop-timeout-secs"));
  }
}

// history-channel-bytes: 0 (keep nothing) to 2^40; receive-bytes-per-sec:
// 1 to 2^40 (README). Both ends read, just outside refused by name.
static void history_channel_and_receive_bytes_bounds(void**) {
  constexpr std::size_t kTop = std::size_t{1} << 40;
  for (std::size_t v : {std::size_t{0}, std::size_t{1}, kTop}) {
    auto r = parse_options({{"history-channel-bytes", std::to_string(v)}}, "d");
    assert_true(r.ok);
    assert_int_equal(r.options.history_channel_bytes, v);
  }
  for (std::size_t v : {std::size_t{1}, kTop}) {
    auto r = parse_options({{"receive-bytes-per-sec", std::to_string(v)}}, "d");
    assert_true(r.ok);
    assert_int_equal(r.options.receive_bytes_per_sec, v);
  }
  struct { const char* name; std::string value; } bad[] = {
      {"history-channel-bytes", std::to_string(kTop + 1)}, {"history-channel-bytes", "-1"},
      {"history-channel-bytes", ""}, {"receive-bytes-per-sec", "0"},
      {"receive-bytes-per-sec", std::to_string(kTop + 1)}, {"receive-bytes-per-sec", "1e6"},
  };
  for (const auto& b : bad) {
    auto r = parse_options({{b.name, b.value}}, "d");
    assert_false(r.ok);
    assert_non_null(strstr(r.error.cause.c_str(), b.name));
  }
}

// jwt-leeway-secs: 0 (the default) to 300 (SPEC section 3), both ends
// accepted and read, just outside refused by name.
static void jwt_leeway_secs_is_0_to_300(void**) {
  assert_int_equal(parse_options({}, "d").options.jwt_leeway_secs, 0);
  for (unsigned secs : {0u, 300u}) {
    auto r = parse_options({{"jwt-leeway-secs", std::to_string(secs)}}, "d");
    assert_true(r.ok);
    assert_int_equal(r.options.jwt_leeway_secs, secs);
  }
  for (const char* bad : {"301", "-1", "1.5", "", "30s"}) {
    auto r = parse_options({{"jwt-leeway-secs", bad}}, "d");
    assert_false(r.ok);
    assert_non_null(strstr(r.error.cause.c_str(), "jwt-leeway-secs"));
  }
}

// The largest value of each bounded option is accepted: the README's ranges.
static void upper_bounds_are_accepted(void**) {
  auto r = parse_options({{"pg-flush-ms", "2000"}, {"pg-batch-size", "100000"}, {"history-size", "10000000"},
                          {"max-message-bytes", "268435456"}, {"send-queue-bytes", "4294967295"}},
                         "d");
  assert_true(r.ok);
  assert_int_equal(r.options.pg_flush_ms, 2000);
  assert_int_equal(r.options.pg_batch_size, 100000);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults_match_the_spec),
      cmocka_unit_test(every_option_is_read),
      cmocka_unit_test(identity_options_are_read),
      cmocka_unit_test(bad_identity_values_are_errors),
      cmocka_unit_test(bad_values_are_errors_that_name_the_option),
      cmocka_unit_test(pg_backlog_bytes_at_its_bounds),
      cmocka_unit_test(unknown_options_warn_and_lws_ones_pass),
      cmocka_unit_test(upper_bounds_are_accepted),
      cmocka_unit_test(stop_timeout_secs_is_1_to_60),
      cmocka_unit_test(jwt_leeway_secs_is_0_to_300),
      cmocka_unit_test(compression_is_on_or_off),
      cmocka_unit_test(history_channel_and_receive_bytes_bounds),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

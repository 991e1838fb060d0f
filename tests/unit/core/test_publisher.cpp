// Publisher (publisher.h): the one publish pipeline, on its own and through
// its two doors. First a table of requests and the outcome each gets (status,
// message, metrics), the order of the checks included; then the same
// outcomes as each door answers them: the WebSocket handler's error frame
// and the HTTP API's status.
#include <memory>
#include <string>
#include <vector>

#include "cmocka_cpp.h"
#include "node_fixture.h"
#include "publisher.h"

using namespace rtpush;

namespace {

// A persistence whose backlog the test sets: what pg-backlog-rows and
// pg-backlog-bytes bound.
struct FakePersistence final : Persistence {
  std::uint64_t rows = 0, bytes = 0, accepted = 0;
  void accept(const Message&) override { ++accepted; }
  void settle(Settled done) override { done(true); }
  void read_page(const std::string&, StreamId, StreamId, std::size_t, std::size_t, PageDone done) override {
    done(true, {}, false);
  }
  BackendState state() const override { return BackendState::Up; }
  StoreStats stats() const override { return {}; }
  std::uint64_t local_backlog() const override { return rows; }
  std::uint64_t local_backlog_bytes() const override { return bytes; }
};

Options options_of(const OptionList& list) {
  OptionsResult parsed = parse_options(list, "test-node");
  assert_true(parsed.ok);
  return parsed.options;
}

// A Publisher on the embedded broker, with what it reads around it.
struct Rig {
  FakeClocks fake;
  Clocks clocks = fake.clocks();
  Options options;
  Metrics metrics;
  Logger log = Logger::none();
  Access access{metrics, log, clocks};
  MemoryBroker broker{16, [this] { return fake.wall; }};
  FakePersistence pg;
  Publisher publisher{options, access, broker, &pg, metrics, log, clocks};
  FakeConnection connection;
  Session session{1, "c1", Encoding::Json, &connection, 1 << 20, fake.steady};

  explicit Rig(const OptionList& list) : options(options_of(list)) {}

  PublishOutcome run(PublishRequest req) {
    PublishOutcome got;
    int calls = 0;
    publisher.publish(std::move(req), [&](const PublishOutcome& o) {
      got = o;
      ++calls;
    });
    assert_int_equal(calls, 1);  // the embedded broker answers at once
    return got;
  }
};

enum class Door { WebSocket, Http };

struct Row {
  const char* what;
  Door door;
  const char* channel;
  const char* data;  // JSON text: the decoded payload (WebSocket) or the body (HTTP)
  PublishStatus status;
  const char* message;  // the outcome's message; "*" followed by text: starts with it
  // Setup: the rules refuse anonymous publishes in ns:, publish-rate is 1
  // and one publish went first, the backlog is full.
  bool rules = false, rate_spent = false, backlog_full = false;
};

const Row kRows[] = {
    {"ws published", Door::WebSocket, "c", "1", PublishStatus::Published, ""},
    {"http published", Door::Http, "c", "[1,2]", PublishStatus::Published, ""},
    {"ws invalid channel", Door::WebSocket, "a b", "1", PublishStatus::InvalidChannel, kInvalidChannelMessage},
    {"http invalid channel before the body", Door::Http, "a b", "{", PublishStatus::InvalidChannel,
     kInvalidChannelMessage},
    {"http body not JSON", Door::Http, "c", "{", PublishStatus::InvalidJson, "*body is not valid JSON: "},
    {"ws forbidden", Door::WebSocket, "ns:a", "1", PublishStatus::Forbidden,
     "*not allowed to publish to ns:a: ", true},
    {"ws forbidden before too large", Door::WebSocket, "ns:a", "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
     PublishStatus::Forbidden, "*not allowed to publish to ns:a: ", true},
    {"http not subject to the rules", Door::Http, "ns:a", "1", PublishStatus::Published, "", true},
    {"ws too large", Door::WebSocket, "c", "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
     PublishStatus::TooLarge, "*"},
    {"ws rate limited", Door::WebSocket, "c", "1", PublishStatus::RateLimited, "publish-rate (1 a second) exceeded",
     false, true},
    {"ws too large before the rate", Door::WebSocket, "c",
     "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"", PublishStatus::TooLarge, "*", false,
     true},
    {"ws backlog full", Door::WebSocket, "c", "1", PublishStatus::Unavailable,
     "postgres is behind: 5 rows wait for it (pg-backlog-rows); nothing was published", false, false, true},
    {"http backlog full", Door::Http, "c", "1", PublishStatus::Unavailable,
     "postgres is behind: 5 rows wait for it (pg-backlog-rows); nothing was published", false, false, true},
    {"ws rate before the backlog", Door::WebSocket, "c", "1", PublishStatus::RateLimited,
     "publish-rate (1 a second) exceeded", false, true, true},
};

bool message_matches(const std::string& got, const char* want) {
  if (want[0] == '*') return got.compare(0, std::strlen(want + 1), want + 1) == 0 && !got.empty();
  return got == want;
}

}  // namespace

static void outcomes(void**) {
  for (const Row& row : kRows) {
    Rig rig({{"max-message-bytes", "64"}, {"publish-rate", "1"}, {"pg-backlog-rows", "5"}});
    if (row.rules) {
      auth::AuthSettings a;
      auth::NamespaceRules ns;
      ns.publish = auth::Rule::token;
      a.rules.namespaces["ns"] = ns;
      rig.access.set_settings(std::move(a));
    }
    if (row.rate_spent) {
      PublishRequest first;
      first.channel = "c";
      first.data.bytes = "0";
      first.from = &rig.session;
      assert_int_equal(static_cast<int>(rig.run(std::move(first)).status), static_cast<int>(PublishStatus::Published));
    }
    if (row.backlog_full) rig.pg.rows = 5;
    const Metrics before = rig.metrics;
    const std::uint64_t accepted = rig.pg.accepted;

    PublishRequest req;
    req.channel = row.channel;
    const std::string body = row.data;
    if (row.door == Door::Http) {
      req.json_body = &body;
    } else {
      req.data.bytes = row.data;
      req.from = &rig.session;
    }
    const PublishOutcome o = rig.run(std::move(req));
    if (o.status != row.status || !message_matches(o.message, row.message))
      fail_msg("%s: status %d message \"%s\"", row.what, static_cast<int>(o.status), o.message.c_str());

    const bool published = row.status == PublishStatus::Published;
    assert_int_equal(o.published != nullptr, published);
    if (published) assert_string_equal(o.published->channel.c_str(), row.channel);
    // Counted here: published by door, failed (the backlog, the broker);
    // a refusal before the broker is the door's to count.
    assert_int_equal(rig.metrics.published_ws - before.published_ws, published && row.door == Door::WebSocket);
    assert_int_equal(rig.metrics.published_http - before.published_http, published && row.door == Door::Http);
    assert_int_equal(rig.metrics.publish_failed - before.publish_failed, row.status == PublishStatus::Unavailable);
    assert_int_equal(rig.pg.accepted - accepted, published);
  }
}

// The publisher's `sub` becomes the message's user (never the frame's);
// the HTTP API's publish is attributed to no one.
static void user_is_the_connections(void**) {
  Rig rig({});
  auth::Identity who;
  who.authenticated = true;
  who.user = "u7";
  rig.session.set_identity(std::move(who), std::nullopt);
  PublishRequest ws;
  ws.channel = "c";
  ws.data.bytes = "1";
  ws.from = &rig.session;
  assert_string_equal(rig.run(std::move(ws)).published->user.c_str(), "u7");
  PublishRequest http;
  http.channel = "c";
  const std::string body = "2";
  http.json_body = &body;
  assert_string_equal(rig.run(std::move(http)).published->user.c_str(), "");
}

namespace {

// A Node whose persistence's backlog the test sets.
struct World {
  FakeClocks clocks;
  FakePersistence* pg = nullptr;
  std::unique_ptr<Node> node;
  World() {
    Options o = options_of({{"max-message-bytes", "64"}, {"pg-backlog-rows", "5"}});
    auto persistence = std::make_unique<FakePersistence>();
    pg = persistence.get();
    node = std::make_unique<Node>(o, std::make_unique<MemoryBroker>(16, [this] { return clocks.wall; }),
                                  clocks.clocks(), std::move(persistence), Logger::none());
  }
};

struct DoorRow {
  const char* what;
  const char* channel;
  const char* data;
  bool backlog_full;
  const char* ws_type;  // the WebSocket answer's type
  const char* ws_code;  // its code when an error
  int http_status;
};

const DoorRow kDoorRows[] = {
    {"published", "c", "1", false, "published", nullptr, 200},
    {"invalid channel", "a b", "1", false, "error", "INVALID_CHANNEL", 400},
    {"backlog full", "c", "1", true, "error", "UNAVAILABLE", 503},
};

}  // namespace

// Each door turns the same outcome into its own answer.
static void doors_answer_the_outcome(void**) {
  for (const DoorRow& row : kDoorRows) {
    World w;
    if (row.backlog_full) w.pg->rows = 5;
    FakeConnection c;
    Session* s = open_session(*w.node, &c);
    const std::string channel = row.channel;
    say(*w.node, s, "{\"type\":\"publish\",\"channel\":\"" + channel + "\",\"data\":" + row.data + ",\"ref\":\"r\"}");
    Sent out;
    drain(s, &out);
    assert_int_equal(out.size(), 1);
    if (strcmp(out.type(0), row.ws_type) != 0) fail_msg("%s: ws answered %s", row.what, out.type(0));
    assert_string_equal(out.str(0, "ref"), "r");
    if (row.ws_code) assert_string_equal(out.str(0, "code"), row.ws_code);

    HttpResponse got;
    HttpApi(*w.node).handle(HttpRequest{"POST", std::string("publish/") + channel, row.data, false, {}, false, {}},
                            [&](HttpResponse r) { got = std::move(r); });
    if (got.status != row.http_status) fail_msg("%s: http answered %d", row.what, got.status);
  }
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(outcomes),
      cmocka_unit_test(user_is_the_connections),
      cmocka_unit_test(doors_answer_the_outcome),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

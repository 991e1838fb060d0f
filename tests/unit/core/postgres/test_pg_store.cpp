// The batch writer over a fake connection (no PostgreSQL): batches by
// pg-batch-size and pg-flush-ms, a conflict goes again with ON CONFLICT, a
// batch refused because of some rows is bisected until exactly those rows
// are dead letters and every other row is written, and a failure that is no
// row's fault keeps every row and retries after the backoff.
#include <atomic>
#include <cstdio>
#include <chrono>
#include <deque>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "io_thread.h"
#include "pg_link.h"
#include "pg_store.h"
// After pg_link.h: cmocka defines a fail() macro.
#include "cmocka_cpp.h"

using namespace rtpush;

namespace {

struct Request {
  std::string sql;  // or the prepared statement's name
  bool prepared = false;
  std::vector<std::string> params;
  PgConnection::Done done;
};

// Holds every request until the test answers it (on the I/O thread).
class FakeLink final : public PgConnection {
 public:
  void query(std::string sql, std::vector<std::string> params, Done done) override {
    pending.push_back({std::move(sql), false, std::move(params), std::move(done)});
  }
  void execute(std::string statement, std::vector<std::string> params, Done done) override {
    pending.push_back({std::move(statement), true, std::move(params), std::move(done)});
  }
  void reset() override { ++resets; }
  void set_lost_handler(std::function<void(const std::string&)> l) override { lost = std::move(l); }

  std::deque<Request> pending;
  int resets = 0;
  std::function<void(const std::string&)> lost;
};

// The ids in a text[] literal as the store writes it: {"a","b"}.
std::vector<std::string> ids_of(const std::string& literal) {
  std::vector<std::string> ids;
  std::string cur;
  bool in = false;
  for (char c : literal) {
    if (c == '"') {
      if (in) ids.push_back(cur);
      cur.clear();
      in = !in;
    } else if (in) {
      cur.push_back(c);
    }
  }
  return ids;
}

PgReply ok() {
  PgReply r;
  r.ok = true;
  return r;
}
PgReply refused(const char* sqlstate, const char* why) {
  PgReply r;
  r.sqlstate = sqlstate;
  r.error = why;
  return r;
}
PgReply link_down() {
  PgReply r;
  r.link_failed = true;
  r.error = "server closed the connection unexpectedly";
  return r;
}

PgRow row(int i) {
  PgRow r;
  r.channel = "c";
  r.id = std::to_string(1000 + i) + "-0";
  r.ms = std::to_string(1000 + i);
  r.seq = "0";
  r.data = "{}";
  r.published_at = "1.000";
  return r;
}

struct World {
  IoThread io{[] {}};
  FakeLink* link = nullptr;
  std::unique_ptr<PgStore> store;
  std::vector<Request> answered;  // every request answered, in order

  World(std::size_t batch, unsigned flush_ms) {
    auto l = std::make_unique<FakeLink>();
    link = l.get();
    store = std::make_unique<PgStore>(std::move(l), batch, flush_ms, &io);
  }
  ~World() { store.reset(); }

  // Answers what is pending, and what that asks next, by `policy`.
  void answer(const std::function<PgReply(const Request&)>& policy) {
    io.run_and_wait([&] {
      for (int n = 0; n < 10000 && !link->pending.empty(); ++n) {
        Request q = std::move(link->pending.front());
        link->pending.pop_front();
        const PgReply r = policy(q);
        answered.push_back(q);
        q.done(r);
      }
    });
  }
  // Answers by `policy` until `until` holds (timers may have to fire first).
  void answer_until(const std::function<PgReply(const Request&)>& policy, const std::function<bool()>& until) {
    for (int i = 0; i < 300 && !until(); ++i) {
      answer(policy);
      if (!until()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    assert_true(until());
  }
  void submit(std::vector<PgRow> rows, std::function<void()> committed) {
    io.run_and_wait([&] { store->submit(std::move(rows), std::move(committed)); });
  }
  // The batches written (prepared inserts), as their ids.
  std::vector<std::vector<std::string>> inserts() const {
    std::vector<std::vector<std::string>> v;
    for (const Request& q : answered)
      if (q.prepared) v.push_back(ids_of(q.params.at(1)));
    return v;
  }
};

PgReply all_ok(const Request&) { return ok(); }

}  // namespace

static void up_once_the_connection_answers(void**) {
  World w(10, 10);
  w.answer_until([](const Request&) { return ok(); }, [&] { return !w.answered.empty(); });
  assert_string_equal(w.answered.front().sql.c_str(), "SELECT 1");
  assert_true(w.store->state() == BackendState::Up);
}

static void batches_by_size_then_by_age(void**) {
  World w(2, 30);
  w.answer(all_ok);
  for (int i = 0; i < 5; ++i) {
    Message m;
    m.channel = "c";
    m.id = StreamId{static_cast<std::uint64_t>(1000 + i), 0};
    m.id_text = m.id.str();
    m.payload.bytes = "{}";
    w.store->append(m);
  }
  w.answer_until(all_ok, [&] { return w.store->stats().rows_written == 5; });
  const auto batches = w.inserts();
  assert_int_equal(batches.size(), 3);
  assert_int_equal(batches[0].size(), 2);
  assert_int_equal(batches[1].size(), 2);
  assert_int_equal(batches[2].size(), 1);  // the rest, once pg-flush-ms old
  const StoreStats st = w.store->stats();
  assert_int_equal(st.batches, 3);
  assert_int_equal(st.backlog, 0);
  assert_true(w.answered[1].sql == "rtpush_insert_fast");
}

static void refused_rows_alone_become_dead_letters(void**) {
  World w(100, 10);
  w.answer(all_ok);
  const std::set<std::string> bad = {row(3).id, row(6).id};
  std::vector<PgRow> rows;
  for (int i = 0; i < 8; ++i) rows.push_back(row(i));
  std::atomic<int> committed{0};
  w.submit(rows, [&] { ++committed; });
  std::set<std::string> dead, written;
  auto policy = [&](const Request& q) {
    if (!q.prepared) {  // dead letters: arrays of channel, id, ..., error, sqlstate
      assert_true(q.sql.find("rtpush_dead_letters") != std::string::npos);
      for (const std::string& state : ids_of(q.params.at(8))) assert_string_equal(state.c_str(), "22P02");
      for (const std::string& id : ids_of(q.params.at(1))) dead.insert(id);
      return ok();
    }
    const std::vector<std::string> ids = ids_of(q.params.at(1));
    for (const std::string& id : ids)
      if (bad.count(id)) return refused("22P02", "invalid input syntax for type json");
    written.insert(ids.begin(), ids.end());
    return ok();
  };
  w.answer_until(policy, [&] { return committed.load() == 1; });
  assert_true(dead == bad);
  assert_int_equal(written.size(), 6);
  for (const std::string& id : bad) assert_int_equal(written.count(id), 0);
  const StoreStats st = w.store->stats();
  assert_int_equal(st.rows_written, 6);
  assert_int_equal(st.dead_letters, 2);
  assert_int_equal(st.backlog, 0);
  assert_int_equal(w.link->resets, 0);  // a row's fault: the connection stays
  assert_true(w.store->state() == BackendState::Up);
}

// A batch of 1,000 with 20 refused rows: every refused row is a dead letter,
// all of them in one statement (it was one statement each), and the batch
// is complete only once they are written.
static void dead_letters_of_a_batch_in_one_statement(void**) {
  World w(1000, 10);
  w.answer(all_ok);
  std::set<std::string> bad;
  std::vector<PgRow> rows;
  for (int i = 0; i < 1000; ++i) {
    rows.push_back(row(i));
    if (i % 50 == 7) bad.insert(rows.back().id);
  }
  std::atomic<int> committed{0};
  w.submit(rows, [&] { ++committed; });
  std::vector<std::string> dead;
  std::size_t dead_statements = 0, inserts = 0, written = 0;
  auto policy = [&](const Request& q) {
    if (!q.prepared) {
      ++dead_statements;
      assert_int_equal(committed.load(), 0);  // the batch waits for its dead letters
      for (const std::string& id : ids_of(q.params.at(1))) dead.push_back(id);
      return ok();
    }
    ++inserts;
    const std::vector<std::string> ids = ids_of(q.params.at(1));
    for (const std::string& id : ids)
      if (bad.count(id)) return refused("23514", "violates check constraint");
    written += ids.size();
    return ok();
  };
  w.answer_until(policy, [&] { return committed.load() == 1; });
  std::printf("1000 rows, %zu refused: %zu dead-letter statements, %zu inserts\n", bad.size(), dead_statements,
              inserts);
  assert_int_equal(dead.size(), bad.size());
  assert_true(std::set<std::string>(dead.begin(), dead.end()) == bad);
  assert_int_equal(dead_statements, 1);
  assert_int_equal(written, 1000 - bad.size());
  const StoreStats st = w.store->stats();
  assert_int_equal(st.dead_letters, bad.size());
  assert_int_equal(st.backlog, 0);
  assert_int_equal(w.store->backlog_bytes(), 0);
}

static void conflict_goes_again_with_on_conflict(void**) {
  World w(100, 10);
  w.answer(all_ok);
  std::atomic<int> committed{0};
  w.submit({row(1), row(2)}, [&] { ++committed; });
  int n = 0;
  w.answer_until([&](const Request&) { return n++ == 0 ? refused("23505", "duplicate key") : ok(); },
                 [&] { return committed.load() == 1; });
  const auto& last = w.answered.back();
  assert_string_equal(last.sql.c_str(), "rtpush_insert");  // ON CONFLICT DO NOTHING
  assert_int_equal(ids_of(last.params.at(1)).size(), 2);
  assert_int_equal(w.store->stats().dead_letters, 0);
}

static void outage_keeps_rows_and_retries_with_backoff(void**) {
  World w(100, 10);
  w.answer(all_ok);
  std::atomic<int> committed{0};
  w.submit({row(1), row(2), row(3)}, [&] { ++committed; });
  w.answer([](const Request&) { return link_down(); });
  assert_true(w.store->state() == BackendState::Down);
  assert_int_equal(w.store->stats().backlog, 3);
  assert_true(w.link->resets >= 1);
  assert_int_equal(w.link->pending.size(), 0);  // nothing until the backoff has passed
  // A server-side error that is no row's fault (disk full) is the same.
  int n = 0;
  w.answer_until([&](const Request&) { return n++ == 0 ? refused("53100", "could not extend file") : ok(); },
                 [&] { return committed.load() == 1; });
  assert_int_equal(w.store->stats().rows_written, 3);
  assert_int_equal(w.store->stats().dead_letters, 0);
  assert_true(w.store->state() == BackendState::Up);
  // The batch in flight when the link broke may have committed: it goes
  // again with ON CONFLICT.
  assert_string_equal(w.answered.back().sql.c_str(), "rtpush_insert");
}

static void idle_connection_lost_is_down_until_it_answers_again(void**) {
  World w(100, 10);
  w.answer(all_ok);
  assert_true(w.store->state() == BackendState::Up);
  w.io.run_and_wait([&] { w.link->lost("server closed the connection unexpectedly"); });
  assert_true(w.store->state() == BackendState::Down);
  w.answer_until(all_ok, [&] { return w.store->state() == BackendState::Up; });
  assert_string_equal(w.answered.back().sql.c_str(), "SELECT 1");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(up_once_the_connection_answers),
      cmocka_unit_test(batches_by_size_then_by_age),
      cmocka_unit_test(refused_rows_alone_become_dead_letters),
      cmocka_unit_test(dead_letters_of_a_batch_in_one_statement),
      cmocka_unit_test(conflict_goes_again_with_on_conflict),
      cmocka_unit_test(outage_keeps_rows_and_retries_with_backoff),
      cmocka_unit_test(idle_connection_lost_is_down_until_it_answers_again),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

// Test doubles for the core: a Connection that counts, clocks a test moves,
// a broker whose history answers are held back (an asynchronous backend),
// and helpers to read what a session was sent.
#pragma once
#include <cjson/cJSON.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http_api.h"
#include "memory_broker.h"
#include "node.h"

struct FakeConnection : rtpush::Connection {
  int writes = 0;
  int closes = 0;
  void request_write() override { ++writes; }
  void request_close() override { ++closes; }
};

struct FakeClocks {
  std::int64_t steady = 1'000'000;
  std::uint64_t wall = 1'700'000'000'000ULL;
  rtpush::Clocks clocks() {
    return rtpush::Clocks{[this] { return steady; }, [this] { return wall; }};
  }
};

// A Node on the embedded broker with clocks the test moves, from `opts`
// (which must be valid): what the core tests without a backend start from.
struct MemoryNode {
  FakeClocks clocks;
  std::unique_ptr<rtpush::Node> node;
  explicit MemoryNode(const rtpush::OptionList& opts = {}) {
    rtpush::OptionsResult parsed = rtpush::parse_options(opts, "test-node");
    assert_true(parsed.ok);
    auto broker = std::make_unique<rtpush::MemoryBroker>(parsed.options.history_size, [this] { return clocks.wall; });
    node = std::make_unique<rtpush::Node>(parsed.options, std::move(broker), clocks.clocks());
  }
};

// A MemoryBroker whose history() answers only when release() is called, the
// way a Redis broker answers later while live messages keep flowing.
class DeferredBroker final : public rtpush::Broker {
 public:
  DeferredBroker(std::size_t history, std::function<std::uint64_t()> clock) : inner_(history, std::move(clock)) {}
  void set_listener(rtpush::BrokerListener* l) override { inner_.set_listener(l); }
  using rtpush::Broker::publish;
  void publish(const std::string& c, rtpush::Payload p, std::string u, PublishDone d) override {
    inner_.publish(c, std::move(p), std::move(u), std::move(d));
  }
  void history(const std::string& c, std::optional<rtpush::StreamId> since, std::size_t, HistoryDone d) override {
    pending_.push_back([this, c, since, d] { d(inner_.read(c, since)); });
  }
  void watch(const std::string&, bool) override {}
  rtpush::BackendState state() const override { return rtpush::BackendState::Off; }
  // Answers the held-back history requests, reading the history *now*.
  void release() {
    auto p = std::move(pending_);
    for (auto& f : p) f();
  }
  std::size_t pending() const { return pending_.size(); }
  rtpush::MemoryBroker& inner() { return inner_; }

 private:
  rtpush::MemoryBroker inner_;
  std::vector<std::function<void()>> pending_;
};

// Everything queued to a session, as parsed JSON objects (caller frees).
struct Sent {
  std::vector<cJSON*> frames;
  ~Sent() { for (cJSON* f : frames) cJSON_Delete(f); }
  std::size_t size() const { return frames.size(); }
  const char* type(std::size_t i) const { return str(i, "type"); }
  const char* str(std::size_t i, const char* key) const {
    const cJSON* v = get(i, key);
    return cJSON_IsString(v) ? v->valuestring : nullptr;
  }
  // Frame i's member; a frame that is not there fails the test, not the process.
  const cJSON* get(std::size_t i, const char* key) const {
    assert_true(i < frames.size());
    assert_non_null(frames[i]);
    return cJSON_GetObjectItemCaseSensitive(frames[i], key);
  }
};

// rtpush_channels_active of `node`'s metrics: channels with a local
// subscriber (the Hub is the Node's own; tests read it as an operator does).
inline long channels_active(const rtpush::Node& node) {
  const std::string text = node.reports().metrics_text();
  const std::string key = "\nrtpush_channels_active ";
  const std::size_t at = text.find(key);
  assert_true(at != std::string::npos);
  return std::strtol(text.c_str() + at + key.size(), nullptr, 10);
}

inline void drain(rtpush::Session* s, Sent* out) {
  while (!s->queue().empty()) {
    out->frames.push_back(cJSON_ParseWithLength(s->queue().front()->view().data(), s->queue().front()->size()));
    s->queue().pop();
  }
}

inline void say(rtpush::Node& node, rtpush::Session* s, const std::string& json) {
  node.receive(s, json, true, true, false);
}

// A new JSON session on `node`, its connection_established already read.
inline rtpush::Session* open_session(rtpush::Node& node, FakeConnection* c) {
  rtpush::Session* s = node.open(c, rtpush::Encoding::Json);
  Sent hello;
  drain(s, &hello);
  return s;
}

// Publishes `data` (JSON text) from `s`; the id of its `published` answer,
// "" when refused. Everything `s` was sent meanwhile is read.
inline std::string publish_id(rtpush::Node& node, rtpush::Session* s, const std::string& channel,
                              const std::string& data) {
  say(node, s, "{\"type\":\"publish\",\"channel\":\"" + channel + "\",\"data\":" + data + "}");
  Sent out;
  drain(s, &out);
  for (std::size_t i = 0; i < out.size(); ++i)
    if (!strcmp(out.type(i), "published")) return out.str(i, "id");
  return "";
}

// libFuzzer target: the HTTP/1.1 requests of one connection, pipelined in
// one segment, through rtpush::HttpExchange (core/http_exchange.h, what the
// `rtpush` protocol decides per request) and a whole Node's HttpApi.
//
// The input after its first byte is what the client sends. A small model of
// lws 4.1.6's HTTP/1 server plays lws's part: it parses a request head,
// reads a Content-Length body (for any method; with lws patch 0013, also
// the body of a request read after the previous answer), reports body completion
// again while bytes wait behind it, reads the next head as soon as a
// body-less request is dispatched, and services nothing of a connection
// whose reading is paused. The first byte's low bit makes every answer
// asynchronous (delivered a pass later, as a broker's is).
//
// It traps when the protocol would:
//  - spin: passes that make no progress while the connection still reads;
//  - take a request while the previous answer is unwritten, answer out of
//    order, keep a connection open after a request found followed;
//  - dispatch or answer a request twice, or close owing an answer.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_node.h"
#include "http_api.h"
#include "http_exchange.h"
#include "node.h"

using namespace rtpush;

namespace {

constexpr std::size_t kMaxHead = 4096;     // lws's header table bounds heads too
constexpr std::size_t kMaxBody = 1 << 16;  // max-message-bytes, small here
constexpr int kMaxIdlePasses = 64;         // a pass that does nothing, again and again: a spin

struct World {
  fuzz::NullConnection conn;
  std::unique_ptr<Node> node = fuzz::small_node();
};

[[noreturn]] void fail() { __builtin_trap(); }

bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if ((line[i] | 0x20) != (name[i] | 0x20)) return false;
  return true;
}

struct Head {
  std::string method, path, authorization;
  bool content_length = false, transfer_encoding = false;
  std::size_t length = 0;
};

// One request head off the front of `in` (lws's parser, roughly); nullopt
// when it is incomplete or bad (lws closes the connection).
std::optional<Head> parse_head(std::string_view& in) {
  const std::size_t end = in.find("\r\n\r\n");
  if (end == std::string_view::npos || end > kMaxHead) return std::nullopt;
  std::string_view head = in.substr(0, end);
  in.remove_prefix(end + 4);
  Head h;
  const std::size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  const std::size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 <= sp1) return std::nullopt;
  h.method = std::string(line.substr(0, sp1));
  std::string_view uri = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (uri.empty() || uri[0] != '/') return std::nullopt;
  h.path = std::string(uri.substr(1));
  while (eol != std::string_view::npos && !head.empty()) {
    head.remove_prefix(head.find("\r\n") == std::string_view::npos ? head.size() : head.find("\r\n") + 2);
    const std::string_view l = head.substr(0, head.find("\r\n"));
    if (l.empty()) break;
    const std::size_t colon = l.find(':');
    std::string_view value = colon == std::string_view::npos ? std::string_view() : l.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (iequals_prefix(l, "content-length:")) {
      h.content_length = true;
      h.length = 0;
      for (char c : value) {
        if (c < '0' || c > '9' || h.length > kMaxBody * 4) return std::nullopt;
        h.length = h.length * 10 + static_cast<std::size_t>(c - '0');
      }
    } else if (iequals_prefix(l, "transfer-encoding:")) {
      h.transfer_encoding = true;
    } else if (iequals_prefix(l, "authorization:")) {
      h.authorization = std::string(value);
    }
  }
  return h;
}

// The connection as lws and the protocol (lws-plugins/protocol_rtpush.cpp)
// handle it together. lws is modelled at its worst: while the connection
// reads and bytes wait in its buffer, it services them before WRITEABLE.
class Conn {
 public:
  Conn(Node& node, std::string_view in, bool async) : node_(node), in_(in), async_(async) {}

  void run() {
    int idle = 0;
    while (!closed_) {
      if (pass()) {
        idle = 0;
      } else if (++idle > kMaxIdlePasses) {
        // Nothing moved: fine while reading is paused for a late answer or
        // the input is used up; a spin when lws would service it again.
        if (!paused_ && (lws_body_done_ || !in_.empty())) fail();
        break;
      }
    }
    if (closed_ && ex_) fail();  // closed with an answer owed but not written
  }

 private:
  // One service pass; true when it made progress.
  bool pass() {
    if (pending_) {  // the broker's answer arrives (IoThread::drain)
      HttpResponse r = std::move(*pending_);
      pending_.reset();
      if (ex_ && ex_->answer(std::move(r))) answered();
      return true;
    }
    if (paused_) return false;  // lws services nothing of the connection
    if (lws_body_done_ && ex_) {
      // lws: LRS_BODY with nothing remaining, and more bytes behind it.
      if (!in_.empty()) {
        if (ex_->body_complete()) fail();  // completed twice
        if (!ex_->complete()) fail();
        followed();
        // Unless the protocol closed or paused, lws does this again: the
        // pass counts as idle, and enough of them are a spin.
        return closed_ || paused_;
      }
    } else if (body_left_ && !in_.empty()) {
      const std::size_t n = std::min(body_left_, in_.size());
      if (ex_) ex_->body(in_.substr(0, n), kMaxBody);
      in_.remove_prefix(n);
      body_left_ -= n;
      if (!body_left_) body_done();
      return true;
    } else if (!body_left_ && !in_.empty()) {
      return read_head();
    }
    if (writable_ && ex_ && ex_->has_answer()) {  // WRITEABLE
      writable_ = false;
      finish();
      return true;
    }
    return false;
  }

  // The plugin's BODY_COMPLETION.
  void body_done() {
    lws_body_done_ = true;
    if (!ex_) return;
    if (ex_->body_complete()) {
      dispatch();
    } else if (ex_->complete()) {
      followed();
    }
  }

  bool read_head() {
    std::optional<Head> h = parse_head(in_);
    if (!h) {  // lws answers a bad head itself and closes
      closed_ = true;
      ex_.reset();
      return false;
    }
    body_left_ = h->content_length ? h->length : 0;
    lws_body_done_ = false;
    if (ex_) {
      // The next head while the answer is unwritten: the protocol does
      // not take the new request.
      if (!ex_->complete()) fail();
      followed();
      return true;
    }
    ex_ = std::make_unique<HttpExchange>();
    ++requests_;
    HttpRequest& req = ex_->request();
    req.method = h->method;
    req.path = h->path;
    req.authorization = h->authorization;
    switch (ex_->begin(h->content_length ? static_cast<long long>(h->length) : -1, h->transfer_encoding)) {
      case HttpExchange::Start::Dispatch:
        dispatch();
        break;
      case HttpExchange::Start::Refuse:
        answered();
        break;
      case HttpExchange::Start::ReadBody:
        if (!body_left_) body_done();  // lws: no body to read, completion at once
        break;
    }
    return true;
  }

  void dispatch() {
    if (dispatched_ == requests_) fail();  // dispatched twice
    dispatched_ = requests_;
    HttpApi(node_).handle(ex_->request(), [this, n = requests_](HttpResponse r) {
      if (n != requests_ || r.status < 200 || r.status > 599) fail();
      if (async_) {
        pending_ = std::move(r);
      } else if (ex_->answer(std::move(r))) {
        answered();
      } else {
        fail();  // answered twice
      }
    });
  }

  // The plugin's answered(): at WRITEABLE, or now when reading is paused.
  void answered() {
    if (paused_) {
      finish();
    } else {
      writable_ = true;
    }
  }

  // The plugin's followed().
  void followed() {
    ex_->followed();
    if (!ex_->closes()) fail();
    if (ex_->has_answer()) {
      finish();
    } else if (ex_->pause_reading()) {
      paused_ = true;
    }
  }

  // The plugin's finish(): the answer goes out; then the next request, or the close.
  void finish() {
    if (++answered_ != requests_) fail();  // one answer per request, in order
    const bool close = ex_->closes();
    ex_.reset();
    if (close) {
      closed_ = true;
      return;
    }
    if (paused_) fail();  // a paused connection's answer always closes
    // lws_http_transaction_completed: a body not read to its end is read and dropped.
    lws_body_done_ = false;
  }

  Node& node_;
  std::string_view in_;
  const bool async_;
  std::unique_ptr<HttpExchange> ex_;
  std::optional<HttpResponse> pending_;
  std::size_t body_left_ = 0;
  bool lws_body_done_ = false;
  bool paused_ = false;
  bool writable_ = false;
  bool closed_ = false;
  int requests_ = 0, dispatched_ = 0, answered_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World w;
  if (size == 0) return 0;
  Conn c(*w.node, std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), data[0] & 1);
  c.run();
  return 0;
}

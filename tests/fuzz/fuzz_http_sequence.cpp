// libFuzzer target: the HTTP/1.1 requests of one connection, pipelined in
// one segment, through rtpush::HttpExchange (core/http_exchange.h, what the
// `rtpush` protocol decides per request) and a whole Node's HttpApi.
//
// The input after its first byte is what the client sends. A small model of
// lws 4.1.6's HTTP/1 server plays lws's part: it parses a request head,
// reads a Content-Length body (for any method), reports body completion
// again on every pass while the connection reads and the answer is not
// written (lws's buffer list is serviced again at once), and reads the next
// request as soon as reading is allowed. The first byte's low bit makes
// every answer asynchronous (delivered a pass later, as a broker's is).
//
// It traps when the protocol would:
//  - spin: passes that make no progress while it still reads;
//  - lose or reorder an answer: a head read while the answer to the
//    previous request is not written, or answers out of order;
//  - answer a request twice, or never.
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

// The connection as lws and the protocol handle it together.
class Connection {
 public:
  Connection(Node& node, std::string_view in, bool async) : node_(node), in_(in), async_(async) {}

  void run() {
    int idle = 0;
    while (!closed_) {
      if (pass()) {
        idle = 0;
      } else if (++idle > kMaxIdlePasses) {
        // Nothing moved: fine when the protocol waits with reading paused
        // or the input is used up; a spin when lws would service it again.
        if (reading() && (lws_body_done_ || !in_.empty())) fail();
        break;
      }
    }
    if (ex_ && ex_->has_answer() && !closed_) fail();  // an answer never written
  }

 private:
  bool reading() const { return !ex_ || !ex_->reading_paused(); }

  // One service pass; true when it made progress.
  bool pass() {
    if (pending_) {  // the broker's answer arrives
      HttpResponse r = std::move(*pending_);
      pending_.reset();
      if (ex_) ex_->answer(std::move(r));
      return true;
    }
    if (ex_ && ex_->has_answer()) return write();
    if (!reading()) return false;
    if (lws_body_done_) {
      // lws: LRS_BODY with nothing remaining, serviced again.
      if (ex_->body_complete()) dispatch();
      return false;
    }
    if (body_left_) {
      if (in_.empty()) return false;
      const std::size_t n = std::min(body_left_, in_.size());
      ex_->body(in_.substr(0, n), kMaxBody);
      in_.remove_prefix(n);
      body_left_ -= n;
      if (!body_left_) {
        lws_body_done_ = true;
        if (ex_->body_complete()) dispatch();
      }
      return true;
    }
    if (in_.empty()) return false;
    return read_head();
  }

  bool read_head() {
    std::optional<Head> h = parse_head(in_);
    if (!h) {
      closed_ = true;
      return false;
    }
    // The protocol ends the previous exchange at a new head: its answer
    // would be lost, and the answers out of order.
    if (ex_) fail();
    ex_ = std::make_unique<HttpExchange>();
    ++requests_;
    HttpRequest& req = ex_->request();
    req.method = h->method;
    req.path = h->path;
    req.authorization = h->authorization;
    body_left_ = h->content_length ? h->length : 0;
    lws_body_done_ = false;
    switch (ex_->begin(h->content_length, h->transfer_encoding)) {
      case HttpExchange::Start::Dispatch:
        dispatch();
        break;
      case HttpExchange::Start::Refuse:
        break;
      case HttpExchange::Start::ReadBody:
        if (!body_left_) {  // lws: no body to read, completion at once
          lws_body_done_ = true;
          if (ex_->body_complete()) dispatch();
        }
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
      } else if (!ex_->answer(std::move(r))) {
        fail();  // answered twice
      }
    });
  }

  // WRITEABLE: the answer goes out; then the next request, or the close.
  bool write() {
    if (++answered_ != requests_) fail();  // one answer per request, in order
    if (ex_->closes()) {
      closed_ = true;
    } else {
      // lws_http_transaction_completed: a body not read to its end is
      // read and dropped by lws before the next head.
      if (body_left_) {
        const std::size_t n = std::min(body_left_, in_.size());
        in_.remove_prefix(n);
        body_left_ -= n;
        if (body_left_) closed_ = true;  // the input ends inside it
      }
      lws_body_done_ = false;
    }
    ex_.reset();
    return true;
  }

  Node& node_;
  std::string_view in_;
  const bool async_;
  std::unique_ptr<HttpExchange> ex_;
  std::optional<HttpResponse> pending_;
  std::size_t body_left_ = 0;
  bool lws_body_done_ = false;
  bool closed_ = false;
  int requests_ = 0, dispatched_ = 0, answered_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World w;
  if (size == 0) return 0;
  Connection c(*w.node, std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), data[0] & 1);
  c.run();
  return 0;
}

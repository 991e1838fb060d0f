// HttpExchange: one HTTP/1.1 request to the `rtpush` protocol and its
// answer, as lws reports them (lws-plugins/protocol_rtpush.cpp), without
// lws types so that a fuzzer drives it (tests/fuzz/fuzz_http_sequence.cpp).
//
// A client may pipeline: send its next request before the answer to this
// one, in the same segment. lws 4.1.6 keeps the bytes after a request on
// the connection and services them again at once: while our answer waits
// for WRITEABLE it reports the body's completion again and again (100% CPU,
// WRITEABLE starved). So a request found followed by another (a repeated
// completion, or the next head while this answer is unwritten) is answered
// with `Connection: close` and the connection closes after it (SPEC section
// 17 allows it); the client sends the rest again on a new connection. Until
// that answer exists the connection's reading is paused, which ends the
// repeats. A request lws reads from those bytes only once the previous
// answer went out (a POST behind a body-less GET) is not found followed:
// both are answered in order. (lws 4.1.6 handed such a request its own head
// as its body; tools/patches/0013 ends that.)
//
// Service thread only (one per request, in the protocol's per-connection data).
#pragma once
#include <cstddef>
#include <string_view>

#include "http_api.h"

namespace rtpush {

class HttpExchange {
 public:
  // What to do once the request's head is in (method and path set).
  enum class Start {
    Dispatch,  // complete: hand it to the HttpApi now
    ReadBody,  // its body follows; it is dispatched at body_complete()
    Refuse,    // answered now (411, response() holds it); the connection closes after
  };

  // `content_length`: the header's value, -1 without one;
  // `transfer_encoding`: the request carries that header. A POST needs
  // Content-Length (lws reports its body's completion, even of none); any
  // other request with a body is dispatched once lws has read it, so that
  // the next request on the connection starts after it.
  Start begin(long long content_length, bool transfer_encoding);
  // A piece of the body: kept up to `max_bytes` in all, past that the
  // rest is dropped and the request marked too large (the answer is 413).
  void body(std::string_view data, std::size_t max_bytes);
  // The body is complete: true the first time, for a request that waited
  // for its body and was not refused meanwhile: then dispatch it. lws says
  // it again only when another request follows in its buffer: that marks
  // this one followed().
  bool body_complete();
  // Another request waits behind this one: its answer closes the connection.
  void followed() { followed_ = true; }
  // Answers `status` {"error":message} and closes the connection after it
  // (a body not read to its end cannot be followed by another request).
  // False when the request has an answer already.
  bool refuse(int status, std::string_view message);
  // The HttpApi's answer. False when the request has one already.
  bool answer(HttpResponse response);

  // The request is complete (dispatched or answered), not yet written.
  bool complete() const { return phase_ == Phase::Waiting || phase_ == Phase::Answered; }
  bool has_answer() const { return phase_ == Phase::Answered; }
  // Followed, its answer not here yet: the connection must not read until
  // it is (lws's rx flow control), or lws repeats itself without end.
  bool pause_reading() const { return followed_ && phase_ == Phase::Waiting; }
  // The connection closes once the answer is written.
  bool closes() const { return refused_ || followed_; }

  HttpRequest& request() { return request_; }
  const HttpResponse& response() const { return response_; }

 private:
  enum class Phase { Head, Body, Waiting, Answered };
  Phase phase_ = Phase::Head;
  bool refused_ = false;
  bool followed_ = false;
  HttpRequest request_;
  HttpResponse response_;
};

}  // namespace rtpush

#include "http_exchange.h"

#include <utility>

namespace rtpush {

HttpExchange::Start HttpExchange::begin(long long content_length, bool transfer_encoding) {
  if (request_.method != "POST") {
    phase_ = content_length > 0 ? Phase::Body : Phase::Waiting;
    return content_length > 0 ? Start::ReadBody : Start::Dispatch;
  }
  // lws 4.1.6 does not decode chunked bodies: without Content-Length it
  // would read up to 100 MB of whatever comes as the body. Refused before
  // any is read (any Transfer-Encoding: with Content-Length too, the two
  // would disagree on where the request ends).
  if (content_length < 0 || transfer_encoding) {
    refuse(411, "a body needs Content-Length");
    return Start::Refuse;
  }
  phase_ = Phase::Body;
  return Start::ReadBody;
}

void HttpExchange::body(std::string_view data, std::size_t max_bytes) {
  if (phase_ != Phase::Body) return;  // answered already, or a body nobody reads
  if (request_.body_too_large || request_.body.size() + data.size() > max_bytes)
    request_.body_too_large = true;
  else
    request_.body.append(data);
}

bool HttpExchange::body_complete() {
  if (phase_ != Phase::Body) {
    if (complete()) followed();
    return false;
  }
  phase_ = Phase::Waiting;
  return true;
}

bool HttpExchange::refuse(int status, std::string_view message) {
  if (phase_ == Phase::Answered) return false;
  refused_ = true;
  return answer(http_error(status, message));
}

bool HttpExchange::answer(HttpResponse response) {
  if (phase_ == Phase::Answered) return false;
  response_ = std::move(response);
  phase_ = Phase::Answered;
  return true;
}

}  // namespace rtpush

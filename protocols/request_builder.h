// The one place a client frame becomes a ClientRequest, for every encoding.
//
// A decoder reads its syntax into RawRequest: each member as the wire model
// holds it (strings as strings, `ref` as JSON text, `since` as id text);
// what only its encoding can get wrong (bytes that do not parse, a ref JSON
// cannot hold) it answers itself, before. build_request() then applies the
// rules all encodings share, in the order that decides which error a bad
// frame gets: `type` first, then `since`, then a publish's `data`; every
// error after `ref` was read echoes it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "wire.h"

namespace rtpush {

// Why a member could not be read: the code and the reason a person reads.
struct MemberFailure {
  ErrorCode code;
  std::string message;
};

class RawRequest {
 public:
  enum class Since : std::uint8_t {
    Absent,  // missing or null (Protocol Buffers: empty)
    Given,   // `since` holds the id text, or a bare ms in decimal
    Bad,     // of a kind no id is: the encoding's bad_member error
  };

  // How the encoding names a member of the wrong kind, and a publish without
  // data: INVALID_JSON for rtpush-json, INVALID_FRAME for the binary ones.
  RawRequest(ErrorCode bad_member, const char* missing_data) : bad_member(bad_member), missing_data(missing_data) {}

  const ErrorCode bad_member;
  const char* const missing_data;

  bool type_is_string = false;
  std::string_view type;           // when type_is_string (may view the decoder's scratch)
  std::string channel;             // when a string; else empty (the core answers INVALID_CHANNEL)
  Since since_state = Since::Absent;
  std::string since;               // when Given
  std::string ref;                 // JSON text of `ref`; empty when absent
  std::string token;               // when a string; else empty (the core answers UNAUTHORIZED)
  bool has_data = false;           // `data` is there (Protocol Buffers: non-empty)

  // Reads `data` (has_data) into `out`, for a publish only: converting it
  // can cost as much as the payload, so it waits until the frame is known good.
  virtual std::optional<MemberFailure> read_data(Payload* out) const = 0;

 protected:
  ~RawRequest() = default;
};

// The request, or the error the frame gets (with the ref when it was read).
DecodeResult build_request(RawRequest& raw);

}  // namespace rtpush

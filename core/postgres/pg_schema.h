// The tables rtpush writes (rtpush_messages, rtpush_dead_letters), created
// when missing by the batch writer on every new connection (see
// docs/persistence.md).
#pragma once

namespace rtpush {

extern const char* const kPgSchema;

}  // namespace rtpush

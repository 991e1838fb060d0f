// The permessage-deflate (RFC 7692) twin of a frame: the same message
// compressed once, to be shared by every subscriber of its encoding whose
// connection negotiated the extension, as the plain frame is shared by the
// others. Made on the lws service thread only (one deflate state per thread).
#pragma once
#include <cstddef>

#include "frame.h"

namespace rtpush {

// Frames shorter than this are not compressed: below it deflate saves a few
// bytes at best and costs more CPU than the saved bytes cost to write
// (measurements in docs/protocol.md "Compression").
inline constexpr std::size_t kDeflateMinBytes = 128;

// `plain`'s payload compressed as one permessage-deflate message (raw
// deflate, window 15, Z_SYNC_FLUSH, the trailing 00 00 ff ff removed:
// RFC 7692 section 7.2.1), flagged compressed. An empty ref when it does
// not pay: `plain` is shorter than kDeflateMinBytes or would not shrink.
//
// Each message is compressed from a fresh state, as if it were the first
// on the connection: its bytes never refer to an earlier message, so they
// are the same for every subscriber, and a client inflates them correctly
// whether or not it keeps its context between messages.
FrameRef deflate_frame(const Frame& plain);

}  // namespace rtpush

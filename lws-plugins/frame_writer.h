// The bytes of the write path shared by WebSocket connections and SSE
// listeners (docs/architecture.md "The write path"): writev() of the shared
// frames on plain sockets, one SSL_write per 64 KB gathered on TLS. When
// to write is FlushedConnection's (flushed_connection.h). Service thread
// only.
#pragma once
#include <libwebsockets.h>

#include <cstddef>
#include <cstdint>

#include "send_queue.h"

namespace rtpush_lws {

// How a queued frame goes on the wire.
enum class Framing : std::uint8_t {
  WebSocket,  // a WebSocket header is written into the frame's headroom first
  Sse,        // the frame's bytes as they are (an event in a close-delimited HTTP body)
};

// The largest write lws takes without cutting it and copying the rest: the
// tx_packet_size of the WebSocket protocols (RTPUSH_WS_PROTOCOL). The TLS
// gather (frame_writer.cpp) stays within it.
inline constexpr std::size_t kTxPacketSize = 256 * 1024;

// Writes what is queued until the socket is full, through lws's TLS when
// the connection has it. Returns false on a socket error; sets *full when
// the socket is full (or lws holds bytes of this connection).
bool write_frames(struct lws* wsi, rtpush::SendQueue& q, Framing framing, bool* full);

}  // namespace rtpush_lws

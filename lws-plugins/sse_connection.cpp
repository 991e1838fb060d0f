#include "sse_connection.h"

namespace rtpush_lws {

void SseConnection::request_close() {
  if (session && session->queue().empty() && !lws_partial_buffered(wsi_)) {
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    return;
  }
  FlushedConnection::request_close();
}

bool SseConnection::output_taken() { return progress.taken(lws_get_socket_fd(wsi_)); }

}  // namespace rtpush_lws

#include "tcp_progress.h"

#include <cstddef>

// The kernel's struct tcp_info: glibc's <netinet/tcp.h> stops before
// tcpi_bytes_acked and tcpi_notsent_bytes, and the two cannot be included
// together, hence a file of its own.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace rtpush_lws {

bool TcpProgress::taken(int fd) {
  struct tcp_info info {};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return true;
  // Older kernels fill less: without the counters there is nothing to judge.
  if (len < offsetof(struct tcp_info, tcpi_notsent_bytes) + sizeof info.tcpi_notsent_bytes) return true;
  const bool moved = info.tcpi_bytes_acked != acked;
  acked = info.tcpi_bytes_acked;
  return moved || (info.tcpi_unacked == 0 && info.tcpi_notsent_bytes == 0);
}

}  // namespace rtpush_lws

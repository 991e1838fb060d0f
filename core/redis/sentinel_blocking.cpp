#include "sentinel_blocking.h"

#include <vector>

#include "redis_blocking.h"
#include "sentinel_replies.h"

namespace rtpush {

std::optional<RedisAddress> blocking_sentinel_master(const RedisUrl& url, double timeout_secs, std::string* why) {
  std::vector<SentinelFailure> failures;
  std::string stale;  // a sentinel named a server that is not a master
  for (const RedisEndpoint& s : url.hosts) {
    std::string cause;
    const BlockingRedis c = blocking_connect(url.sentinel(s), timeout_secs, &cause);
    if (!c) {
      failures.push_back({s.host_port(), cause});
      continue;
    }
    const RedisReplyPtr r = blocking_command(c.get(), {"SENTINEL", "get-master-addr-by-name", url.master});
    SentinelAnswer a = sentinel_master_answer(r.get());
    if (!r) a.why = c->errstr;
    if (a.kind == SentinelAnswer::UnknownMaster) {
      failures.push_back({s.host_port(), ""});
      continue;
    }
    if (a.kind == SentinelAnswer::Failed) {
      failures.push_back({s.host_port(), a.why});
      continue;
    }
    RedisAddress master = url.server(a.master.host, a.master.port);
    std::string master_cause;
    const BlockingRedis m = blocking_connect(master, timeout_secs, &master_cause);
    if (!m) {  // a stale answer naming a dead master, or a refused AUTH: try the next sentinel
      stale = master_cause;
      continue;
    }
    const RedisReplyPtr role = blocking_command(m.get(), {"ROLE"});
    const std::string said = role_of(role.get());
    if (said == "master") return master;
    // A stale answer (a failover under way): ask the next sentinel.
    stale = "redis " + master.host_port() + " is not a master (ROLE: " + (said.empty() ? "no answer" : said) +
            "): a failover is under way; try again";
  }
  *why = stale.empty() ? no_master_cause(url.master, failures) : stale;
  return std::nullopt;
}

}  // namespace rtpush

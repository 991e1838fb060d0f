#include "sentinel_replies.h"

#include <cstdlib>
#include <sstream>

namespace rtpush {

namespace {

std::string str(const redisReply* r) {
  if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)) return {};
  return std::string(r->str, r->len);
}

std::optional<int> port_of(const std::string& s) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const int p = std::atoi(s.c_str());
  if (p <= 0 || p > 65535) return std::nullopt;
  return p;
}

}  // namespace

SentinelAnswer sentinel_master_answer(const redisReply* r) {
  SentinelAnswer a;
  if (!r) {
    a.why = "no reply";
    return a;
  }
  if (r->type == REDIS_REPLY_NIL) {
    a.kind = SentinelAnswer::UnknownMaster;
    return a;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    // Never empty: no_master_cause() reads an empty why as "knows no such
    // master" (found by fuzz_cluster_slots).
    a.why = r->len > 0 ? std::string(r->str, r->len) : "an empty error";
    return a;
  }
  if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
    const std::string host = str(r->element[0]);
    const auto port = port_of(str(r->element[1]));
    if (!host.empty() && port) {
      a.kind = SentinelAnswer::Address;
      a.master = RedisEndpoint{host, *port};
      return a;
    }
  }
  a.why = "an answer that is not a master's address";
  return a;
}

std::optional<MasterSwitch> parse_switch_master(const std::string& payload) {
  std::istringstream in(payload);
  MasterSwitch s;
  std::string from_port, to_port, extra;
  if (!(in >> s.master >> s.from.host >> from_port >> s.to.host >> to_port) || (in >> extra)) return std::nullopt;
  const auto fp = port_of(from_port), tp = port_of(to_port);
  if (!fp || !tp) return std::nullopt;
  s.from.port = *fp;
  s.to.port = *tp;
  return s;
}

std::string no_master_cause(const std::string& master, const std::vector<SentinelFailure>& failures) {
  std::string silent;
  bool any_unknown = false;
  for (const SentinelFailure& f : failures) {
    if (f.why.empty()) {
      any_unknown = true;
      continue;
    }
    silent += (silent.empty() ? "" : ", ") + f.sentinel + ": " + f.why;
  }
  if (silent.empty()) return "the sentinels know no master named " + master;
  if (!any_unknown) return "no sentinel answered (" + silent + ")";
  return "the sentinels that answered know no master named " + master + "; no answer from (" + silent + ")";
}

std::string role_of(const redisReply* r) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1) return {};
  return str(r->element[0]);
}

}  // namespace rtpush

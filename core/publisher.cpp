#include "publisher.h"

#include <utility>

#include "json_text.h"
#include "payload_size.h"

namespace rtpush {

namespace {

PublishOutcome refused(PublishStatus status, std::string message) {
  PublishOutcome o;
  o.status = status;
  o.message = std::move(message);
  return o;
}

}  // namespace

void Publisher::publish(PublishRequest req, Done done) {
  if (!valid_channel(req.channel)) return done(refused(PublishStatus::InvalidChannel, kInvalidChannelMessage));
  if (req.json_body) {
    if (const char* why = json_strict(*req.json_body, &req.data.bytes))
      return done(refused(PublishStatus::InvalidJson, std::string("body is not valid JSON: ") + why));
  }
  Session* const s = req.from;
  // Before the rate limit: a refused publish spends none of publish-rate.
  std::string why;
  if (s && !access_.permits(s->identity(), req.channel, auth::Action::publish, &why))
    return done(refused(PublishStatus::Forbidden, std::move(why)));
  // As for an oversized frame: the bound holds in every encoding delivered.
  if (const char* form = payload_oversize(req.data, options_.max_message_bytes))
    return done(refused(PublishStatus::TooLarge, oversize_reason(form, options_.max_message_bytes)));
  if (s && options_.publish_rate && !s->publish_bucket().take(options_.publish_rate, clocks_.steady_ms()))
    return done(refused(PublishStatus::RateLimited,
                        "publish-rate (" + std::to_string(options_.publish_rate) + " a second) exceeded"));
  if (std::string full = backlog_full(req.data.bytes.size()); !full.empty()) {
    ++metrics_.publish_failed;
    return done(refused(PublishStatus::Unavailable, std::move(full)));
  }
  // The publisher's `sub`, never read from the frame: what subscribers,
  // replays and the history see as the message's `user`.
  std::string user = s && s->identity().authenticated ? s->identity().user : std::string();
  const bool from_ws = s != nullptr;
  broker_.publish(req.channel, std::move(req.data), std::move(user),
                  [this, from_ws, done = std::move(done)](const PublishResult& r) {
                    PublishOutcome o;
                    if (r.ok) {
                      ++(from_ws ? metrics_.published_ws : metrics_.published_http);
                      if (persistence_) persistence_->accept(*r.message);
                      o.status = PublishStatus::Published;
                      o.published = r.message;
                    } else {
                      ++metrics_.publish_failed;
                      o.message = r.reason;
                    }
                    done(o);
                  });
}

std::string Publisher::backlog_full(std::size_t payload_bytes) {
  std::string limit, why;
  if (persistence_ && persistence_->local_backlog() >= options_.pg_backlog_rows) {
    limit = "pg-backlog-rows";
    why = std::to_string(options_.pg_backlog_rows) + " rows wait for it (pg-backlog-rows)";
  } else if (const std::uint64_t bytes = persistence_ ? persistence_->local_backlog_bytes() : 0;
             bytes > 0 && bytes + payload_bytes > options_.pg_backlog_bytes) {
    // Past the bound with this payload; one payload alone always fits.
    limit = "pg-backlog-bytes";
    why = std::to_string(bytes) + " bytes of messages wait for it (pg-backlog-bytes " +
          std::to_string(options_.pg_backlog_bytes) + ")";
  }
  if (limit.empty()) {
    if (const std::string was = std::exchange(backlog_refusing_, std::string()); !was.empty())
      log_.event(LogLevel::Notice, "publish_resumed", {{"limit", was}});
    return {};
  }
  if (std::exchange(backlog_refusing_, limit).empty())
    log_.event(LogLevel::Warn, "publish_paused",
               {{"limit", limit}, {"rows_waiting", persistence_->local_backlog()},
                {"cause", "postgres is behind: publishes are refused until it catches up"}});
  return "postgres is behind: " + why + "; nothing was published";
}

}  // namespace rtpush

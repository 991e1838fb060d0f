// rtpush-publish: publish JSON messages to an rtpush channel (README.md "rtpush-publish").
//
//   rtpush-publish --url http://HOST:PORT/MOUNT [--api-key-file F] --channel C [--data JSON]
//   rtpush-publish --redis URL --channel C [--data JSON]   (Redis release)
//
// Without --data, each line of standard input is one JSON value, one message.
// Prints each new message's id on its own line. Exit: 0 all published, 1 any
// failed (reason on stderr), 2 bad usage.
#include <curl/curl.h>
#include <getopt.h>
#include <poll.h>

#include <cerrno>
#include <cstdio>
#include <deque>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <memory>
#include <string>

#include <cjson/cJSON.h>

#include "json_text.h"
#include "redis_address.h"
#include "sentinel_blocking.h"
#include "auth/secret_file.h"
#include "redis_publisher.h"
#include "wire.h"

namespace {

constexpr int kOk = 0, kFailed = 1, kUsage = 2;

const char kHelp[] = R"(Usage:
  rtpush-publish --url http://HOST:PORT/MOUNT [--api-key-file FILE] --channel CHANNEL [--data JSON]
  rtpush-publish --redis redis://[USER:PASSWORD@]HOST:PORT[/DB] --channel CHANNEL [--data JSON]
  rtpush-publish --redis redis+sentinel://[USER:PASSWORD@]H1:P1,H2:P2,.../MASTER[/DB] --channel CHANNEL [--data JSON]
  rtpush-publish --redis redis+cluster://[USER:PASSWORD@]H1:P1,H2:P2,... --channel CHANNEL [--data JSON]

Publishes JSON messages to an rtpush channel and prints each new message's id
on its own line, in order.

  --url URL        publish through the HTTP API of a node: POST URL/publish/CHANNEL
                   (URL is where the vhost mounts callback://rtpush, e.g.
                   http://127.0.0.1:7681/)
  --api-key-file F with --url: the vhost's API key (its api-key-file), sent
                   as "Authorization: Bearer KEY"; one trailing newline in
                   F is ignored, as the node ignores it. Without it, the environment variable
                   RTPUSH_API_KEY is used when set (the option wins). Not
                   needed with --redis: Redis is not behind the API key, so
                   keep it where only trusted hosts reach it.
  --redis URL      publish through Redis exactly as a node does, with the
                   nodes' own script: every node delivers it, and it is kept
                   in the channel's history. Lines from standard input are
                   pipelined. A Redis no node has configured yet (new,
                   restarted or flushed) refuses it: it cannot tell whether
                   nodes with PostgreSQL would persist the message.
                   redis://PASSWORD@HOST:PORT (or :PASSWORD@) AUTHs as the
                   default user, redis://USER:PASSWORD@HOST:PORT as an ACL
                   user; %-escape '@', ':' and '/' in them (%40, %3A, %2F).
                   A refused AUTH is reported in Redis's words; the password
                   is never printed
                   redis+sentinel://[user:password@]H1:P1,H2:P2,.../MASTER[/DB]:
                   the sentinels are asked in turn for MASTER, which must
                   answer ROLE master; sentinels with their own password
                   get it from the environment variable
                   RTPUSH_REDIS_SENTINEL_PASSWORD.
                   redis+cluster://: the seeds (any node of the cluster)
                   give the slot map; the message goes to the master of
                   the channel's slot, following MOVED and ASK; after a
                   lost connection (a master died) the next message waits
                   up to --timeout for the new master
  --history-size N with --redis: how many messages the channel's history
                   keeps; by default what the nodes recorded in Redis
  --channel C      the channel: 1-200 bytes, no whitespace or control characters
  --data JSON      the message, one JSON value. Without --data, standard input
                   is read: one JSON value per line, each its own message;
                   empty lines are skipped; a line that is not exactly one
                   strict JSON value (trailing bytes, invalid UTF-8, a raw
                   control character in a string) is reported (with its line
                   number and why) and skipped, the rest still go out.
  --timeout SECS   HTTP timeout per message, or Redis's timeout for a
                   connection and an answer (default 10)
  -h, --help       this text
  --version        the version

Exit status:
  0  every message was published
  1  any message failed (the reason is on standard error): invalid JSON, the
     server refused it (HTTP 400/413/503; 401: a missing or wrong API key,
     403: not allowed), or the server or Redis could not be reached
  2  bad usage: unknown or missing options, an invalid channel, an
     --api-key-file that cannot be read or is empty

Examples:
  rtpush-publish --url http://127.0.0.1:7681/ --channel news --data '{"title":"hi"}'
  producer | rtpush-publish --url http://127.0.0.1:7681/ --channel news
  rtpush-publish --url http://127.0.0.1:7681/ --api-key-file /etc/rtpush/api-key --channel news --data 1
  RTPUSH_API_KEY=... rtpush-publish --url http://127.0.0.1:7681/ --channel news --data 1
  producer | rtpush-publish --redis redis://127.0.0.1:6379 --channel news
  rtpush-publish --redis redis://rtpush:PASSWORD@10.0.0.5:6379/0 --channel news --data 1
  rtpush-publish --redis redis+cluster://127.0.0.1:7000,127.0.0.1:7001 --channel news --data 1
)";

struct Args {
  std::string url, redis, channel, data;
  std::string api_key_file;
  std::string api_key;  // from api_key_file or RTPUSH_API_KEY; empty: none
  bool has_data = false;
  long timeout_secs = 10;
  long history_size = -1;  // -1: what the nodes recorded
};

int usage(const std::string& why) {
  std::cerr << "rtpush-publish: " << why << "\nTry 'rtpush-publish --help'.\n";
  return kUsage;
}

// The key in `path`, without its trailing newline. False with `why` when it
// cannot be read, is empty, or has a line break left (a header cannot carry it).
bool read_api_key(const std::string& path, std::string* key, std::string* why) {
  if (!rtpush::auth::read_file_text(path, key, why)) return false;
  rtpush::auth::strip_one_newline(key);  // as the node reads its api-key-file
  if (key->empty()) {
    *why = "empty";
    return false;
  }
  if (key->find_first_of("\r\n") != std::string::npos) {
    *why = "more than one line";
    return false;
  }
  return true;
}

// Returns -1 when the arguments are good, else the exit code.
int parse_args(int argc, char** argv, Args* a) {
  enum { kUrl = 1000, kRedis, kChannel, kData, kTimeout, kVersion, kHistory, kApiKeyFile };
  static const option opts[] = {
      {"url", required_argument, nullptr, kUrl},         {"redis", required_argument, nullptr, kRedis},
      {"channel", required_argument, nullptr, kChannel}, {"data", required_argument, nullptr, kData},
      {"timeout", required_argument, nullptr, kTimeout}, {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, kVersion},       {"history-size", required_argument, nullptr, kHistory},
      {"api-key-file", required_argument, nullptr, kApiKeyFile},
      {nullptr, 0, nullptr, 0},
  };
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":h", opts, nullptr)) != -1) {
    switch (c) {
      case kUrl: a->url = optarg; break;
      case kRedis: a->redis = optarg; break;
      case kChannel: a->channel = optarg; break;
      case kData: a->data = optarg; a->has_data = true; break;
      case kApiKeyFile: a->api_key_file = optarg; break;
      case kTimeout: {
        char* end = nullptr;
        a->timeout_secs = std::strtol(optarg, &end, 10);
        if (!*optarg || *end || a->timeout_secs <= 0) return usage("--timeout takes a whole number of seconds");
        break;
      }
      case kHistory: {
        char* end = nullptr;
        a->history_size = std::strtol(optarg, &end, 10);
        if (!*optarg || *end || a->history_size < 0) return usage("--history-size takes a whole number");
        break;
      }
      case 'h': std::cout << kHelp; return kOk;
      case kVersion: std::cout << "rtpush-publish " RTPUSH_VERSION "\n"; return kOk;
      case ':': return usage(std::string("option ") + argv[optind - 1] + " needs a value");
      default: return usage(std::string("unknown option ") + argv[optind - 1]);
    }
  }
  if (optind < argc) return usage(std::string("unexpected argument ") + argv[optind]);
  if (a->url.empty() == a->redis.empty()) return usage("give exactly one of --url or --redis");
  if (a->channel.empty()) return usage("--channel is required");
  if (!rtpush::valid_channel(a->channel))
    return usage("invalid channel \"" + a->channel + "\": 1-200 bytes, no whitespace or control characters");
  if (!a->redis.empty()) {
    std::string why;
    const auto url = rtpush::RedisUrl::parse(a->redis, &why);
    if (!url) return usage("--redis: " + why);
  }
  if (!a->api_key_file.empty()) {
    if (!a->redis.empty()) return usage("--api-key-file goes with --url (Redis has no API key)");
    std::string why;
    if (!read_api_key(a->api_key_file, &a->api_key, &why)) return usage("--api-key-file " + a->api_key_file + ": " + why);
  } else if (const char* env = std::getenv("RTPUSH_API_KEY"); env && *env && a->redis.empty()) {
    a->api_key = env;
  }
  return -1;
}

// One HTTP connection, kept alive across messages.
class HttpPublisher {
 public:
  HttpPublisher(const Args& a) : curl_(curl_easy_init(), curl_easy_cleanup) {
    std::unique_ptr<char, decltype(&curl_free)> ch(curl_easy_escape(curl_.get(), a.channel.data(), static_cast<int>(a.channel.size())), curl_free);
    std::string base = a.url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    endpoint_ = base + "/publish/" + ch.get();
    headers_ = curl_slist_append(nullptr, "Content-Type: application/json");
    have_key_ = !a.api_key.empty();
    if (have_key_) headers_ = curl_slist_append(headers_, ("Authorization: Bearer " + a.api_key).c_str());
    CURL* c = curl_.get();
    curl_easy_setopt(c, CURLOPT_URL, endpoint_.c_str());
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, a.timeout_secs);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &HttpPublisher::collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body_);
  }
  ~HttpPublisher() { curl_slist_free_all(headers_); }
  // The server refused the API key (401): every later message would be too.
  bool refused() const { return refused_; }

  // The new id, or false with `why` set.
  bool publish(const std::string& json, std::string* id, std::string* why) {
    body_.clear();
    CURL* c = curl_.get();
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(json.size()));
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
      *why = "cannot reach " + endpoint_ + ": " + curl_easy_strerror(rc);
      return false;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    cJSON* answer = cJSON_ParseWithLength(body_.data(), body_.size());
    const cJSON* got = cJSON_GetObjectItemCaseSensitive(answer, status == 200 ? "id" : "error");
    const bool ok = status == 200 && cJSON_IsString(got);
    if (ok) *id = got->valuestring;
    else *why = "HTTP " + std::to_string(status) + (cJSON_IsString(got) ? std::string(": ") + got->valuestring : ": " + body_);
    if (status == 401) {
      *why += have_key_ ? " (the server refused this API key)"
                        : " (the server needs its API key: --api-key-file FILE or RTPUSH_API_KEY)";
      refused_ = true;
    }
    cJSON_Delete(answer);
    return ok;
  }

 private:
  static size_t collect(char* p, size_t size, size_t n, void* out) {
    static_cast<std::string*>(out)->append(p, size * n);
    return size * n;
  }
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl_;
  curl_slist* headers_ = nullptr;
  std::string endpoint_, body_;
  bool have_key_ = false;
  bool refused_ = false;
};

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// True when another line can be read without waiting: a bulk input keeps
// the Redis pipeline full, a slow producer's lines go out (and their ids
// come back) one by one.
bool input_waiting() {
  if (std::cin.rdbuf()->in_avail() > 0) return true;
  pollfd p{0, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (int rc = parse_args(argc, argv, &args); rc >= 0) return rc;
  int failed = 0;
  // Answers come in order; each is printed (id) or reported (why).
  std::string where;
  auto report = [&](bool ok, const std::string& id_or_why, const std::string& at) {
    if (ok) {
      std::cout << id_or_why << '\n';
    } else {
      std::cerr << "rtpush-publish: " << at << id_or_why << "\n";
      ++failed;
    }
  };

  std::unique_ptr<HttpPublisher> http;
  std::unique_ptr<RedisPublisher> redis;
  std::deque<std::string> pending_where;  // for pipelined Redis answers
  if (args.redis.empty()) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    http = std::make_unique<HttpPublisher>(args);
  } else {
    redis = std::make_unique<RedisPublisher>(args.channel, args.history_size, static_cast<double>(args.timeout_secs),
                                             [&](bool ok, const std::string& r) {
                                               report(ok, r, pending_where.front());
                                               pending_where.pop_front();
                                             });
    std::string why;
    const rtpush::RedisUrl url = *rtpush::RedisUrl::parse(args.redis, &why);
    bool connected = false;
    if (url.topology == rtpush::RedisTopology::Cluster) {
      connected = redis->connect(url, &why);
    } else {
      std::optional<rtpush::RedisAddress> server = url.single();
      if (url.topology == rtpush::RedisTopology::Sentinel) {
        // RTPUSH_REDIS_SENTINEL_PASSWORD: the sentinels' own password (the
        // nodes' redis-sentinel-password), kept out of the command line.
        if (const char* p = std::getenv("RTPUSH_REDIS_SENTINEL_PASSWORD"); p && *p) {
          rtpush::RedisUrl with = url;
          with.sentinel_password = p;
          server = rtpush::blocking_sentinel_master(with, static_cast<double>(args.timeout_secs), &why);
        } else {
          server = rtpush::blocking_sentinel_master(url, static_cast<double>(args.timeout_secs), &why);
        }
      }
      connected = server && redis->connect(*server, &why);
    }
    if (!connected) {
      std::cerr << "rtpush-publish: " << why << "\n";
      return kFailed;
    }
  }
  auto send = [&](const std::string& text, const std::string& at) {
    std::string json;
    if (const char* why = rtpush::json_strict(text, &json)) {
      report(false, std::string("not published: ") + why, at);
      return;
    }
    if (redis) {
      pending_where.push_back(at);
      redis->publish(json);
      return;
    }
    std::string id, why;
    const bool ok = http->publish(json, &id, &why);
    report(ok, ok ? id : why, at);
    std::cout.flush();  // a pipe sees ids as they come
  };
  if (args.has_data) {
    send(args.data, "--data: ");
  } else {
    std::string line;
    for (long n = 1; std::getline(std::cin, line); ++n) {
      if (!blank(line)) send(line, "line " + std::to_string(n) + ": ");
      if (http && http->refused()) {
        std::cerr << "rtpush-publish: stopped at line " << n << ": the server refuses the API key\n";
        break;
      }
      if (redis && !input_waiting()) {
        redis->finish();
        std::cout.flush();
      }
    }
  }
  if (redis) redis->finish();
  std::cout.flush();
  if (http) curl_global_cleanup();
  return failed ? kFailed : kOk;
}

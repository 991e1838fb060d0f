// rtpush-token: mint a token a vhost accepts (README.md "Security"), for
// testing and for servers that hand tokens to their users, without writing
// code. Prints the token. Exit: 0 printed, 1 signing failed, 2 bad usage
// (as rtpush-publish).
#include <getopt.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <cjson/cJSON.h>

#include "auth/token.h"
#include "auth/secret_file.h"
#include "signer.h"

namespace {

constexpr int kOk = 0, kFailed = 1, kUsage = 2;

const char kHelp[] = R"(Usage:
  rtpush-token --secret-file FILE --sub USER [options]
  rtpush-token --private-key-file FILE --sub USER [options]

Prints a token (a JWT) that a vhost with the matching key accepts, for the
`token` query parameter of the WebSocket URL (ws://HOST/?token=TOKEN) or the
frame {"type":"auth","token":TOKEN}.

  --secret-file F       HS256, signed with the secret in F: the same file as
                        the vhost's jwt-secret-file (one trailing newline is
                        ignored, as the vhost ignores it)
  --private-key-file F  RS256 (an RSA key) or ES256 (a P-256 key), signed with
                        the PEM private key in F (not encrypted); the vhost's
                        jwt-public-key-file holds its public half
  --sub USER            the user id (claim `sub`), required
  --ttl SECS            the token expires SECS seconds from now (claim `exp`;
                        default 3600); 0: no `exp`, it never expires (keep
                        that for tests)
  --channel C           may subscribe to C in namespaces whose rule is
                        `token` (claim `channels`); a trailing * matches every
                        channel starting with what precedes it ('chat:*').
                        Repeat for more.
  --publish C           the same for publishing (claim `publish`)
  --aud A               claim `aud` (the vhost's jwt-audience, when it has one)
  --iss I               claim `iss` (the vhost's jwt-issuer, when it has one)
  -h, --help            this text
  --version             the version

Exit status:
  0  the token is printed
  1  signing failed
  2  bad usage: unknown or missing options, a key file that cannot be read,
     is empty or is not a key of a supported type

Examples:
  rtpush-token --secret-file /etc/rtpush/jwt-secret --sub 42 --channel 'chat:*' --publish 'chat:*'
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem
  openssl pkey -in key.pem -pubout -out public.pem     # the vhost's jwt-public-key-file
  rtpush-token --private-key-file key.pem --sub 42 --ttl 600
)";

struct Args {
  std::string secret_file, key_file, sub, aud, iss;
  long ttl = 3600;
  std::vector<std::string> channels, publish;
};

int usage(const std::string& why) {
  std::cerr << "rtpush-token: " << why << "\nTry 'rtpush-token --help'.\n";
  return kUsage;
}

// Returns -1 when the arguments are good, else the exit code.
int parse_args(int argc, char** argv, Args* a) {
  enum { kSecret = 1000, kKey, kSub, kTtl, kChannel, kPublish, kAud, kIss, kVersion };
  static const option opts[] = {
      {"secret-file", required_argument, nullptr, kSecret}, {"private-key-file", required_argument, nullptr, kKey},
      {"sub", required_argument, nullptr, kSub},            {"ttl", required_argument, nullptr, kTtl},
      {"channel", required_argument, nullptr, kChannel},    {"publish", required_argument, nullptr, kPublish},
      {"aud", required_argument, nullptr, kAud},            {"iss", required_argument, nullptr, kIss},
      {"help", no_argument, nullptr, 'h'},                  {"version", no_argument, nullptr, kVersion},
      {nullptr, 0, nullptr, 0},
  };
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":h", opts, nullptr)) != -1) {
    switch (c) {
      case kSecret: a->secret_file = optarg; break;
      case kKey: a->key_file = optarg; break;
      case kSub: a->sub = optarg; break;
      case kTtl: {
        char* end = nullptr;
        errno = 0;
        a->ttl = std::strtol(optarg, &end, 10);
        if (!*optarg || *end || errno || a->ttl < 0 || a->ttl > 100L * 365 * 86400)
          return usage("--ttl takes a whole number of seconds, 0 to 3153600000");
        break;
      }
      case kChannel: a->channels.emplace_back(optarg); break;
      case kPublish: a->publish.emplace_back(optarg); break;
      case kAud: a->aud = optarg; break;
      case kIss: a->iss = optarg; break;
      case 'h': std::cout << kHelp; return kOk;
      case kVersion: std::cout << "rtpush-token " RTPUSH_VERSION "\n"; return kOk;
      case ':': return usage(std::string("option ") + argv[optind - 1] + " needs a value");
      default: return usage(std::string("unknown option ") + argv[optind - 1]);
    }
  }
  if (optind < argc) return usage(std::string("unexpected argument ") + argv[optind]);
  if (a->secret_file.empty() == a->key_file.empty())
    return usage("give exactly one of --secret-file or --private-key-file");
  if (a->sub.empty()) return usage("--sub is required (the user id, not empty)");
  for (const auto* list : {&a->channels, &a->publish})
    for (const std::string& ch : *list)
      if (ch.empty()) return usage("--channel and --publish take a channel, not an empty string");
  return -1;
}

void add_list(cJSON* claims, const char* name, const std::vector<std::string>& values) {
  if (values.empty()) return;
  cJSON* arr = cJSON_AddArrayToObject(claims, name);
  for (const std::string& v : values) cJSON_AddItemToArray(arr, cJSON_CreateString(v.c_str()));
}

std::string json_text(cJSON* obj) {
  char* text = cJSON_PrintUnformatted(obj);
  std::string out = text ? text : "";
  cJSON_free(text);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (int rc = parse_args(argc, argv, &args); rc >= 0) return rc;

  std::unique_ptr<rtpush_token::Signer> signer;
  std::string key, why;
  const std::string& file = args.secret_file.empty() ? args.key_file : args.secret_file;
  const char* option = args.secret_file.empty() ? "--private-key-file " : "--secret-file ";
  if (!rtpush::auth::read_file_text(file, &key, &why)) return usage(option + file + ": " + why);
  if (!args.secret_file.empty()) {
    rtpush::auth::strip_one_newline(&key);  // as the node reads jwt-secret-file
    if (key.empty()) return usage(option + file + ": empty");
    signer = rtpush_token::Signer::hs256(key);
  } else {
    signer = rtpush_token::Signer::from_private_key_pem(key, &why);
    if (!signer) return usage(option + file + ": " + why);
  }

  const long long now = static_cast<long long>(std::time(nullptr));
  cJSON* header = cJSON_CreateObject();
  cJSON_AddStringToObject(header, "alg", signer->alg());
  cJSON_AddStringToObject(header, "typ", "JWT");
  cJSON* claims = cJSON_CreateObject();
  cJSON_AddStringToObject(claims, "sub", args.sub.c_str());
  cJSON_AddNumberToObject(claims, "iat", static_cast<double>(now));
  if (args.ttl > 0) cJSON_AddNumberToObject(claims, "exp", static_cast<double>(now + args.ttl));
  if (!args.aud.empty()) cJSON_AddStringToObject(claims, "aud", args.aud.c_str());
  if (!args.iss.empty()) cJSON_AddStringToObject(claims, "iss", args.iss.c_str());
  add_list(claims, "channels", args.channels);
  add_list(claims, "publish", args.publish);
  const std::string input = rtpush::auth::base64url_encode(json_text(header)) + "." +
                            rtpush::auth::base64url_encode(json_text(claims));
  cJSON_Delete(header);
  cJSON_Delete(claims);

  const std::string signature = signer->sign(input);
  if (signature.empty()) {
    std::cerr << "rtpush-token: signing failed\n";
    return kFailed;
  }
  std::cout << input << '.' << rtpush::auth::base64url_encode(signature) << '\n';
  return std::cout.flush() ? kOk : kFailed;
}

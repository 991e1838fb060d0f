// The one rule for a key or secret kept in a file (jwt-secret-file,
// api-key-file), shared by the node (auth_settings.cpp) and the tools that
// must read the same file the same way (rtpush-publish --api-key-file,
// rtpush-token --secret-file): any other difference and the key or every
// token would be refused. Header-only, so a tool need not link the core.
#pragma once
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace rtpush::auth {

// Editors and `echo` end a file with a newline nobody means as part of the
// secret: exactly one "\n" or "\r\n" goes, anything else stays.
inline void strip_one_newline(std::string* s) {
  if (!s->empty() && s->back() == '\n') {
    s->pop_back();
    if (!s->empty() && s->back() == '\r') s->pop_back();
  }
}

// The whole file at `path` (tools: a file named on the command line); false
// with `why` set (errno's text, never the content).
inline bool read_file_text(const std::string& path, std::string* out, std::string* why) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    *why = std::strerror(errno);
    return false;
  }
  std::ostringstream text;
  text << f.rdbuf();
  if (f.bad()) {
    *why = "cannot be read";
    return false;
  }
  *out = text.str();
  return true;
}

}  // namespace rtpush::auth

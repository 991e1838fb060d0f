#include "json_msgpack.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "json_text.h"
#include "utf8.h"

#include "json_codec.h"

namespace rtpush {

namespace {

struct Reader {
  std::string_view j;
  const std::vector<std::uint32_t>& counts;  // items of each container, in opening order
  std::size_t i = 0;
  std::size_t next_container = 0;
  int depth = 0;

  void ws() {
    while (i < j.size() && (j[i] == ' ' || j[i] == '\t' || j[i] == '\n' || j[i] == '\r')) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < j.size() && j[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
};

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Pass one over the text: the number of members or elements of every object
// and array, in the order they open. MessagePack needs a container's count
// before its items; counting each container by re-reading it, as this did
// before, cost O(size x depth) (0.3 s for 1 MB nested 990 deep).
bool count_containers(std::string_view j, std::vector<std::uint32_t>* counts, std::vector<std::uint32_t>* open_stack) {
  std::vector<std::uint32_t>& open = *open_stack;  // index in counts of each open container
  open.clear();
  bool just_opened = false;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const char c = j[i];
    if (is_ws(c)) continue;
    if (c == '"') {
      for (++i; i < j.size() && j[i] != '"'; ++i)
        if (j[i] == '\\') ++i;
      if (i >= j.size()) return false;
    } else if (c == '[' || c == '{') {
      if (open.size() > static_cast<std::size_t>(kMaxJsonDepth)) return false;
      open.push_back(static_cast<std::uint32_t>(counts->size()));
      counts->push_back(0);
      just_opened = true;
      continue;
    } else if (c == ',' || c == ']' || c == '}') {
      if (open.empty()) return false;
      if (c == ',' || !just_opened) ++(*counts)[open.back()];
      if (c != ',') open.pop_back();
    }
    just_opened = false;
  }
  return open.empty();
}

// Decodes the string literal at r.i into UTF-8.
bool read_string(Reader& r, std::string* out) {
  r.ws();
  if (r.i >= r.j.size() || r.j[r.i] != '"') return false;
  out->clear();
  auto hex4 = [&](std::size_t at, unsigned* v) {
    if (at + 4 > r.j.size()) return false;
    *v = 0;
    for (std::size_t k = at; k < at + 4; ++k) {
      const char c = r.j[k];
      *v <<= 4;
      if (c >= '0' && c <= '9') *v |= c - '0';
      else if (c >= 'a' && c <= 'f') *v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') *v |= c - 'A' + 10;
      else return false;
    }
    return true;
  };
  for (++r.i; r.i < r.j.size();) {
    const char c = r.j[r.i++];
    if (c == '"') return true;
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (r.i >= r.j.size()) return false;
    const char e = r.j[r.i++];
    switch (e) {
      case '"': case '\\': case '/': out->push_back(e); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case 'u': {
        unsigned cp;
        if (!hex4(r.i, &cp)) return false;
        r.i += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && r.i + 6 <= r.j.size() && r.j[r.i] == '\\' && r.j[r.i + 1] == 'u') {
          unsigned lo;
          if (hex4(r.i + 2, &lo) && lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            r.i += 6;
          }
        }
        if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;  // a lone surrogate
        if (cp < 0x80) {
          out->push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
          out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
          out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
          out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
          out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
          out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
          out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
          out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
          out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
          out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
        break;
      }
      default: return false;
    }
  }
  return false;
}

std::size_t number_end(const Reader& r) {
  std::size_t e = r.i;
  while (e < r.j.size() && (std::isdigit(static_cast<unsigned char>(r.j[e])) || r.j[e] == '-' || r.j[e] == '+' ||
                            r.j[e] == '.' || r.j[e] == 'e' || r.j[e] == 'E'))
    ++e;
  return e;
}

bool literal(Reader& r, std::string_view word) {
  if (r.j.substr(r.i, word.size()) != word) return false;
  r.i += word.size();
  return true;
}

bool pack(Reader& r, msgpack_packer* pk) {
  r.ws();
  if (r.i >= r.j.size()) return false;
  const char c = r.j[r.i];
  bool ok = true;
  if (c == '{' || c == '[') {
    const bool object = c == '{';
    const char close = object ? '}' : ']';
    ++r.i;
    // A payload nests at most kMaxJsonDepth deep, a client frame (a ref, a
    // data member) one more: this bounds the recursion.
    if (r.next_container >= r.counts.size() || ++r.depth > kMaxJsonDepth + 1) return false;
    const std::uint32_t n = r.counts[r.next_container++];
    object ? msgpack_pack_map(pk, n) : msgpack_pack_array(pk, n);
    std::string key;
    for (std::uint32_t k = 0; k < n && ok; ++k) {
      if (k > 0 && !r.eat(',')) return false;
      if (object) {
        if (!read_string(r, &key) || !r.eat(':')) return false;
        msgpack_pack_str_with_body(pk, key.data(), key.size());
      }
      ok = pack(r, pk);
    }
    ok = ok && r.eat(close);
    --r.depth;
  } else if (c == '"') {
    std::string s;
    ok = read_string(r, &s);
    if (ok) msgpack_pack_str_with_body(pk, s.data(), s.size());
  } else if (c == 't' || c == 'f' || c == 'n') {
    if (literal(r, "true")) msgpack_pack_true(pk);
    else if (literal(r, "false")) msgpack_pack_false(pk);
    else if (literal(r, "null")) msgpack_pack_nil(pk);
    else ok = false;
  } else {
    const std::size_t e = number_end(r);
    const std::string text(r.j.substr(r.i, e - r.i));
    if (text.empty()) return false;
    r.i = e;
    const bool integer = text.find_first_of(".eE") == std::string::npos;
    char* end = nullptr;
    errno = 0;
    if (integer && text[0] == '-') {
      const long long v = std::strtoll(text.c_str(), &end, 10);
      if (errno == 0 && *end == 0) {
        msgpack_pack_int64(pk, v);
        return true;
      }
    } else if (integer) {
      const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
      if (errno == 0 && *end == 0) {
        msgpack_pack_uint64(pk, v);
        return true;
      }
    }
    errno = 0;
    const double d = std::strtod(text.c_str(), &end);  // beyond 64 bits, or a fraction
    ok = *end == 0;
    if (ok) msgpack_pack_double(pk, d);
  }
  return ok;
}

// The shortest text that reads back as the same double.
void append_double(std::string* out, double d) {
  char buf[40];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string_view s(buf);
  out->append(s);
  if (s.find_first_of(".eEn") == std::string_view::npos) out->append(".0");  // stays a float for the reader
}

}  // namespace

bool pack_json(std::string_view json, msgpack_packer* pk) {
  // Scratch kept per thread: this runs once per message per MessagePack
  // encoding, and two allocations were a measurable part of a small
  // message's cost. Whatever a huge payload grew them to is given back.
  thread_local std::vector<std::uint32_t> counts, open;
  struct Trim {
    ~Trim() {
      for (auto* v : {&counts, &open})
        if (v->capacity() > 4096) std::vector<std::uint32_t>().swap(*v);
    }
  } trim;
  counts.clear();
  if (!count_containers(json, &counts, &open)) return false;
  Reader r{json, counts};
  if (!pack(r, pk)) return false;
  r.ws();
  return r.i == json.size();
}

namespace {

// The length of `s` as a JSON string literal (json_append_string).
std::size_t json_string_size(std::string_view s) {
  std::size_t n = 2;
  for (unsigned char c : s)
    n += c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t' ? 2 : c < 0x20 ? 6 : 1;
  return n;
}

struct ToJson {
  std::string* out;
  std::size_t limit;
  bool too_large = false;

  // Appending `n` more bytes stays within the limit.
  bool room(std::size_t n) {
    if (n > limit || out->size() > limit - n) too_large = true;
    return !too_large;
  }

  bool value(const msgpack_object& o, int depth) {
    if (depth > kMaxJsonDepth + 1) return false;
    switch (o.type) {
      case MSGPACK_OBJECT_NIL: out->append("null"); break;
      case MSGPACK_OBJECT_BOOLEAN: out->append(o.via.boolean ? "true" : "false"); break;
      case MSGPACK_OBJECT_POSITIVE_INTEGER: out->append(std::to_string(o.via.u64)); break;
      case MSGPACK_OBJECT_NEGATIVE_INTEGER: out->append(std::to_string(o.via.i64)); break;
      case MSGPACK_OBJECT_FLOAT32:
      case MSGPACK_OBJECT_FLOAT64:
        if (!std::isfinite(o.via.f64)) return false;
        append_double(out, o.via.f64);
        break;
      case MSGPACK_OBJECT_STR: {
        const std::string_view s(o.via.str.ptr, o.via.str.size);
        if (!valid_utf8(s)) return false;
        // Escaping grows a string at most six times: the exact size only
        // when that bound does not fit, and never the text past the limit.
        if (out->size() + 6 * s.size() + 2 > limit && !room(json_string_size(s))) return false;
        json_append_string(out, s);
        break;
      }
      case MSGPACK_OBJECT_ARRAY:
        out->push_back('[');
        for (std::uint32_t k = 0; k < o.via.array.size; ++k) {
          if (k) out->push_back(',');
          if (!value(o.via.array.ptr[k], depth + 1)) return false;
        }
        out->push_back(']');
        break;
      case MSGPACK_OBJECT_MAP:
        out->push_back('{');
        for (std::uint32_t k = 0; k < o.via.map.size; ++k) {
          const msgpack_object_kv& kv = o.via.map.ptr[k];
          if (kv.key.type != MSGPACK_OBJECT_STR) return false;
          if (k) out->push_back(',');
          if (!value(kv.key, depth + 1)) return false;
          out->push_back(':');
          if (!value(kv.val, depth + 1)) return false;
        }
        out->push_back('}');
        break;
      default: return false;  // bin, ext
    }
    return room(0);
  }
};

int count_bytes(void* data, const char*, size_t len) {
  *static_cast<std::size_t*>(data) += len;
  return 0;
}

}  // namespace

JsonFromMsgpack msgpack_to_json(const msgpack_object& o, std::string* out, std::size_t limit) {
  ToJson t{out, limit};
  if (t.value(o, 1)) return JsonFromMsgpack::Ok;
  return t.too_large ? JsonFromMsgpack::TooLarge : JsonFromMsgpack::NotJson;
}

std::size_t msgpack_size_of_json(std::string_view json) {
  std::size_t n = 0;
  msgpack_packer pk;
  msgpack_packer_init(&pk, &n, count_bytes);
  return pack_json(json, &pk) ? n : SIZE_MAX;
}

}  // namespace rtpush

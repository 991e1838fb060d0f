#include "json_msgpack.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "json_codec.h"

namespace rtpush {

namespace {

struct Reader {
  std::string_view j;
  std::size_t i = 0;
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

bool skip(Reader& r);

// The number of members (object) or elements (array) starting after the
// opening bracket at r.i - 1, without moving r: msgpack needs it up front.
bool count_items(Reader r, char close, bool object, std::uint32_t* n) {
  *n = 0;
  if (r.eat(close)) return true;
  for (;;) {
    if (object) {
      r.ws();
      if (!skip(r) || !r.eat(':')) return false;
    }
    if (!skip(r)) return false;
    ++*n;
    if (r.eat(close)) return true;
    if (!r.eat(',')) return false;
  }
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

// Moves past one value (used to count members).
bool skip(Reader& r) {
  r.ws();
  if (r.i >= r.j.size()) return false;
  const char c = r.j[r.i];
  if (c == '"') {
    for (++r.i; r.i < r.j.size(); ++r.i) {
      if (r.j[r.i] == '\\') ++r.i;
      else if (r.j[r.i] == '"') return ++r.i, true;
    }
    return false;
  }
  if (c == '{' || c == '[') {
    const char close = c == '{' ? '}' : ']';
    ++r.i;
    if (r.eat(close)) return true;
    for (;;) {
      if (c == '{') {
        if (!skip(r) || !r.eat(':')) return false;
      }
      if (!skip(r)) return false;
      if (r.eat(close)) return true;
      if (!r.eat(',')) return false;
    }
  }
  if (c == 't') return literal(r, "true");
  if (c == 'f') return literal(r, "false");
  if (c == 'n') return literal(r, "null");
  const std::size_t e = number_end(r);
  if (e == r.i) return false;
  r.i = e;
  return true;
}

bool pack(Reader& r, msgpack_packer* pk) {
  if (++r.depth > 1000) return false;
  r.ws();
  if (r.i >= r.j.size()) return false;
  const char c = r.j[r.i];
  bool ok = true;
  if (c == '{' || c == '[') {
    const bool object = c == '{';
    const char close = object ? '}' : ']';
    ++r.i;
    std::uint32_t n;
    if (!count_items(r, close, object, &n)) return false;
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
        --r.depth;
        return true;
      }
    } else if (integer) {
      const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
      if (errno == 0 && *end == 0) {
        msgpack_pack_uint64(pk, v);
        --r.depth;
        return true;
      }
    }
    errno = 0;
    const double d = std::strtod(text.c_str(), &end);  // beyond 64 bits, or a fraction
    ok = *end == 0;
    if (ok) msgpack_pack_double(pk, d);
  }
  --r.depth;
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
  Reader r{json};
  if (!pack(r, pk)) return false;
  r.ws();
  return r.i == json.size();
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    std::size_t len;
    std::uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    static const std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return false;  // overlong, surrogate
    i += len;
  }
  return true;
}

bool msgpack_to_json(const msgpack_object& o, std::string* out) {
  switch (o.type) {
    case MSGPACK_OBJECT_NIL: out->append("null"); return true;
    case MSGPACK_OBJECT_BOOLEAN: out->append(o.via.boolean ? "true" : "false"); return true;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: out->append(std::to_string(o.via.u64)); return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: out->append(std::to_string(o.via.i64)); return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
      if (!std::isfinite(o.via.f64)) return false;
      append_double(out, o.via.f64);
      return true;
    case MSGPACK_OBJECT_STR: {
      const std::string_view s(o.via.str.ptr, o.via.str.size);
      if (!valid_utf8(s)) return false;
      json_append_string(out, s);
      return true;
    }
    case MSGPACK_OBJECT_ARRAY:
      out->push_back('[');
      for (std::uint32_t k = 0; k < o.via.array.size; ++k) {
        if (k) out->push_back(',');
        if (!msgpack_to_json(o.via.array.ptr[k], out)) return false;
      }
      out->push_back(']');
      return true;
    case MSGPACK_OBJECT_MAP:
      out->push_back('{');
      for (std::uint32_t k = 0; k < o.via.map.size; ++k) {
        const msgpack_object_kv& kv = o.via.map.ptr[k];
        if (kv.key.type != MSGPACK_OBJECT_STR) return false;
        if (k) out->push_back(',');
        if (!msgpack_to_json(kv.key, out)) return false;
        out->push_back(':');
        if (!msgpack_to_json(kv.val, out)) return false;
      }
      out->push_back('}');
      return true;
    default: return false;  // bin, ext
  }
}

}  // namespace rtpush

#include "json_msgpack.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "json_text.h"
#include "utf8.h"

namespace rtpush {

namespace {

struct Reader {
  std::string_view j;
  const std::vector<std::uint32_t>& counts;  // items of each container, in opening order (json_text.h)
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

// The string literal at r.i (text json_text checked) as UTF-8: a view of
// the text when it has no escape, else decoded into `scratch`.
bool read_string(Reader& r, std::string* scratch, std::string_view* out) {
  r.ws();
  if (r.i >= r.j.size() || r.j[r.i] != '"') return false;
  bool escaped = false;
  const std::size_t end = json_string_end(r.j, r.i, &escaped);
  *out = r.j.substr(r.i + 1, end - r.i - 2);
  r.i = end;
  if (escaped) {
    scratch->clear();
    json_unescape(*out, scratch, LoneSurrogate::Replace);
    *out = *scratch;
  }
  return true;
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
    std::string scratch;
    for (std::uint32_t k = 0; k < n && ok; ++k) {
      if (k > 0 && !r.eat(',')) return false;
      if (object) {
        std::string_view key;
        if (!read_string(r, &scratch, &key) || !r.eat(':')) return false;
        msgpack_pack_str_with_body(pk, key.data(), key.size());
      }
      ok = pack(r, pk);
    }
    ok = ok && r.eat(close);
    --r.depth;
  } else if (c == '"') {
    std::string scratch;
    std::string_view s;
    ok = read_string(r, &scratch, &s);
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
  thread_local JsonContainerCounts counts;
  struct Trim {
    ~Trim() {
      for (auto* v : {&counts.items, &counts.open})
        if (v->capacity() > 4096) std::vector<std::uint32_t>().swap(*v);
    }
  } trim;
  // The strict reader checks the text and counts every container's items in
  // one pass (counting each container by re-reading it, as this once did,
  // cost O(size x depth): 0.3 s for 1 MB nested 990 deep). A payload nests
  // at most kMaxJsonDepth deep, a client frame (a ref, a data member) one more.
  if (json_container_counts(json, &counts, kMaxJsonDepth + 1) != nullptr) return false;
  Reader r{json, counts.items};
  if (!pack(r, pk)) return false;
  r.ws();
  return r.i == json.size();
}

namespace {

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

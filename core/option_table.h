// The `rtpush` protocol's options as one table, as nginx's ngx_command_t[]:
// each option's name, kind, range, the Options member it sets and a line
// of doc. parse_options() (options.h) reads lwsws's strings through it;
// the README's options table, defaults included (Options' initializers,
// read through each row's member), is checked against it
// (test_options_readme).
// The table is constant: any thread may read it.
#pragma once
#include <cstddef>
#include <string>
#include <variant>
#include <vector>

#include "options.h"

namespace rtpush {

enum class OptionKind {
  Number,    // a whole decimal number from min to max
  Text,      // any text, empty meaning unset (postgres)
  NonEmpty,  // text that must not be empty (node-id, jwt-audience, ...)
  File,      // a file's path, not empty; read by Vhost::build, not here
  Choice,    // one of two words: false_word or true_word
  Origins,   // allowed-origins: comma-separated scheme://host[:port]
  RedisUrl,  // the three URL forms (redis_address.h), parsed once into Options::redis_url
};

// Where a parsed value goes: the Options member, of the type the kind gives
// (Number: std::size_t or unsigned; Choice: bool; Origins: the list; the
// others: text).
using OptionMember = std::variant<std::size_t Options::*, unsigned Options::*, bool Options::*,
                                  std::string Options::*, std::vector<std::string> Options::*>;

struct OptionSpec {
  const char* name;
  OptionKind kind;
  OptionMember member;
  std::size_t min = 0, max = 0;       // Number only
  const char* false_word = nullptr;   // Choice only
  const char* true_word = nullptr;    // Choice only
  const char* doc = "";
  // The defaults are Options' initializers, read through `member`; this
  // names one that is not a constant there (node-id: "hostname:pid").
  const char* default_doc = nullptr;
};

// Every option, in the README's order.
const std::vector<OptionSpec>& option_table();

// The option called `name`, or null.
const OptionSpec* find_option(const std::string& name);

}  // namespace rtpush

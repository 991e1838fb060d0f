// README.md's options table against the code's (option_table.h), both
// ways: every option the README lists exists, every option the code takes
// is listed, and where the README states a default or a range it is the
// code's. The README is the operator's reference; this keeps it true.
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "cmocka_cpp.h"
#include "option_table.h"

using namespace rtpush;

namespace {

struct ReadmeRow {
  std::vector<std::string> names;  // `a`, `b` in the first cell
  std::string default_cell, range_cell;
};

std::string trim(const std::string& s) {
  const std::size_t b = s.find_first_not_of(' '), e = s.find_last_not_of(' ');
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// The `quoted` words of a cell, in order.
std::vector<std::string> quoted(const std::string& cell) {
  std::vector<std::string> out;
  for (std::size_t open = cell.find('`'); open != std::string::npos; open = cell.find('`', open)) {
    const std::size_t close = cell.find('`', open + 1);
    if (close == std::string::npos) break;
    out.push_back(cell.substr(open + 1, close - open - 1));
    open = close + 1;
  }
  return out;
}

// The rows of the table under "## Options", up to the first line that is
// not a table row.
std::vector<ReadmeRow> readme_rows() {
  std::ifstream in(RTPUSH_README);
  assert_true(in.good());
  std::vector<ReadmeRow> rows;
  std::string line;
  bool in_section = false, in_table = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) {
      if (in_section) break;
      in_section = line == "## Options";
      continue;
    }
    if (!in_section) continue;
    if (line.rfind("|", 0) != 0) {
      if (in_table) break;
      continue;
    }
    in_table = true;
    std::vector<std::string> cells;
    std::size_t from = 1;
    for (std::size_t bar; cells.size() < 3 && (bar = line.find('|', from)) != std::string::npos; from = bar + 1)
      cells.push_back(trim(line.substr(from, bar - from)));
    if (cells.size() < 3 || cells[0] == "option" || cells[0].rfind("---", 0) == 0) continue;
    rows.push_back({quoted(cells[0]), cells[1], cells[2]});
  }
  return rows;
}

// "1,024" -> 1024, "2^20 (1 MiB)" -> 1048576; false if neither.
bool readme_number(std::string text, std::size_t* out) {
  text = trim(text.substr(0, text.find('(')));
  if (text.rfind("2^", 0) == 0) {
    *out = std::size_t{1} << std::strtoul(text.c_str() + 2, nullptr, 10);
    return true;
  }
  std::string digits;
  for (char c : text) {
    if (c == ',') continue;
    if (c < '0' || c > '9') return false;
    digits += c;
  }
  if (digits.empty()) return false;
  *out = std::strtoull(digits.c_str(), nullptr, 10);
  return true;
}

}  // namespace

static void every_option_is_documented_and_every_documented_option_exists(void**) {
  const std::vector<ReadmeRow> rows = readme_rows();
  assert_true(rows.size() > 10);
  std::set<std::string> documented;
  bool failed = false;
  for (const ReadmeRow& row : rows)
    for (const std::string& name : row.names) {
      documented.insert(name);
      if (!find_option(name)) {
        print_error("README.md lists `%s`, which the code does not take\n", name.c_str());
        failed = true;
      }
    }
  for (const OptionSpec& s : option_table())
    if (!documented.count(s.name)) {
      print_error("option `%s` is not in README.md's options table\n", s.name);
      failed = true;
    }
  assert_false(failed);
  // In the same order, so that one reads beside the other.
  std::vector<std::string> readme_order, code_order;
  for (const ReadmeRow& row : rows) readme_order.insert(readme_order.end(), row.names.begin(), row.names.end());
  for (const OptionSpec& s : option_table()) code_order.emplace_back(s.name);
  for (std::size_t i = 0; i < readme_order.size() && i < code_order.size(); ++i)
    if (readme_order[i] != code_order[i]) {
      print_error("README.md lists `%s` where the table has `%s`\n", readme_order[i].c_str(), code_order[i].c_str());
      failed = true;
    }
  assert_false(failed);
}

// The code's default of `s`, as the README writes it: a number, a word,
// what default_doc says, or empty for unset (an empty text, no origins).
std::string code_default(const OptionSpec& s) {
  const Options initial;  // the defaults are its initializers
  if (s.default_doc) return s.default_doc;
  if (auto size = std::get_if<std::size_t Options::*>(&s.member)) return std::to_string(initial.**size);
  if (auto u = std::get_if<unsigned Options::*>(&s.member)) return std::to_string(initial.**u);
  if (auto flag = std::get_if<bool Options::*>(&s.member)) return initial.**flag ? s.true_word : s.false_word;
  if (auto text = std::get_if<std::string Options::*>(&s.member)) return initial.**text;
  return {};  // the origin list: empty
}

// A default cell is `value` (possibly followed by words) or "unset...";
// a range cell of a number is "A to B"; of a choice, "`x` or `y`".
static void defaults_and_ranges_are_the_codes(void**) {
  bool failed = false;
  for (const ReadmeRow& row : readme_rows())
    for (const std::string& name : row.names) {
      const OptionSpec* s = find_option(name);
      if (!s) continue;  // the other test says so
      const std::vector<std::string> def = quoted(row.default_cell);
      const std::string code = code_default(*s);
      if (row.default_cell.rfind("unset", 0) == 0) {
        if (!code.empty()) {
          print_error("%s: README says unset by default, the code %s\n", name.c_str(), code.c_str());
          failed = true;
        }
      } else if (row.default_cell.rfind("`", 0) != 0 || def.empty() || def[0] != code) {
        print_error("%s: README's default \"%s\", the code's \"%s\"\n", name.c_str(), row.default_cell.c_str(),
                    code.c_str());
        failed = true;
      }
      if (s->kind == OptionKind::Number) {
        const std::size_t to = row.range_cell.find(" to ");
        std::size_t min = 0, max = 0;
        if (to == std::string::npos || !readme_number(row.range_cell.substr(0, to), &min) ||
            !readme_number(row.range_cell.substr(to + 4), &max) || min != s->min || max != s->max) {
          print_error("%s: README's range \"%s\", the code's %zu to %zu\n", name.c_str(), row.range_cell.c_str(),
                      s->min, s->max);
          failed = true;
        }
      } else if (s->kind == OptionKind::Choice) {
        const std::vector<std::string> words = quoted(row.range_cell);
        if (words.size() != 2 || words[0] != s->false_word || words[1] != s->true_word) {
          print_error("%s: README's words \"%s\", the code's %s or %s\n", name.c_str(), row.range_cell.c_str(),
                      s->false_word, s->true_word);
          failed = true;
        }
      }
    }
  assert_false(failed);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_option_is_documented_and_every_documented_option_exists),
      cmocka_unit_test(defaults_and_ranges_are_the_codes),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

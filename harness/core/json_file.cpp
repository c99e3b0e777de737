#include "harness/core/json_file.h"

#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "harness/common/error.h"

namespace bp {

namespace {

// A DOM builder for nlohmann's SAX interface that tracks the JSON pointer of the value being parsed, so a repeated
// key can be reported where it occurs.
class StrictSax : public nlohmann::json_sax<json> {
 public:
  json root;
  std::string error_pointer, error_text;

  bool null() override { return put(json(nullptr)); }
  bool boolean(bool v) override { return put(json(v)); }
  bool number_integer(number_integer_t v) override { return put(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return put(json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return put(json(v)); }
  bool string(string_t& v) override { return put(json(v)); }
  bool binary(binary_t& v) override { return put(json::binary(v)); }

  bool start_object(std::size_t) override { return open(json::object()); }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(json::array()); }
  bool end_array() override { return close(); }

  bool key(string_t& k) override {
    Frame& f = stack_.back();
    if (!f.keys.insert(k).second) {
      error_pointer = json_pointer_append(pointer_of(stack_.size()), k);
      error_text = "duplicate key \"" + k + "\"; expected each key at most once in an object";
      return false;
    }
    f.key = k;
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
    std::string what = ex.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix: the rest says where and what.
    auto close_bracket = what.find("] ");
    if (what.rfind("[json.exception", 0) == 0 && close_bracket != std::string::npos) what = what.substr(close_bracket + 2);
    error_text = "invalid JSON: " + what;
    return false;
  }

 private:
  struct Frame {
    json* value;
    std::set<std::string> keys;  // objects: keys seen so far
    std::string key;             // objects: key of the value being parsed
    size_t index = 0;            // arrays: index of the next element
  };
  std::vector<Frame> stack_;

  // Pointer of the container at depth `depth` (1 = root container).
  std::string pointer_of(size_t depth) const {
    std::string p;
    for (size_t i = 0; i + 1 < depth; ++i) {
      const Frame& f = stack_[i];
      p = f.value->is_object() ? json_pointer_append(p, f.key) : json_pointer_append(p, f.index - 1);
    }
    return p;
  }

  json* insert(json v) {
    if (stack_.empty()) {
      root = std::move(v);
      return &root;
    }
    Frame& f = stack_.back();
    if (f.value->is_object()) return &((*f.value)[f.key] = std::move(v));
    f.value->push_back(std::move(v));
    ++f.index;
    return &f.value->back();
  }
  bool put(json v) {
    insert(std::move(v));
    return true;
  }
  bool open(json v) {
    json* p = insert(std::move(v));
    stack_.push_back(Frame{p, {}, {}, 0});
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }
};

}  // namespace

json parse_json_strict(const std::string& text, const std::string& file) {
  StrictSax sax;
  bool ok = json::sax_parse(text, &sax, json::input_format_t::json, /*strict=*/true, /*ignore_comments=*/false);
  if (!ok) throw InputError(file, sax.error_pointer, sax.error_text.empty() ? "invalid JSON" : sax.error_text);
  return std::move(sax.root);
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot read the file (missing or unreadable)");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw InputError(path, "", "cannot read the file (I/O error)");
  return ss.str();
}

std::string json_excerpt(const json& v, size_t max_chars) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > max_chars) s = s.substr(0, max_chars - 3) + "...";
  return s;
}

const char* json_type_words(const json& v) {
  switch (v.type()) {
    case json::value_t::object: return "an object";
    case json::value_t::array: return "a list";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    case json::value_t::null: return "null";
    default: return "a value";
  }
}

}  // namespace bp

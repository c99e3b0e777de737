#include "harness/cli/table.h"

#include <algorithm>

namespace bp::cli {

namespace {
// Display width of UTF-8 text: code points, not bytes (labels may hold non-ASCII file names).
size_t width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}
}  // namespace

std::string TextTable::render_text() const {
  std::vector<size_t> w(headers.size(), 0);
  for (size_t i = 0; i < headers.size(); ++i) w[i] = width(headers[i]);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], width(r[i]));
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < w.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : "";
      s += cell;
      if (i + 1 < w.size()) s += std::string(w[i] - width(cell) + 2, ' ');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  std::string out = line(headers);
  for (const auto& r : rows) out += line(r);
  return out;
}

std::string TextTable::render_markdown() const {
  auto esc = [](const std::string& s) {
    std::string o;
    for (char c : s) {
      if (c == '|') o += "\\|";
      else if (c == '\n') o += "<br>";
      else o += c;
    }
    return o;
  };
  std::string out = "|";
  for (const auto& h : headers) out += " " + esc(h) + " |";
  out += "\n|";
  for (size_t i = 0; i < headers.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& r : rows) {
    out += "|";
    for (size_t i = 0; i < headers.size(); ++i) out += " " + esc(i < r.size() ? r[i] : "") + " |";
    out += "\n";
  }
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) {
    if (c == '"') o += "\"\"";
    else o += c;
  }
  return o + "\"";
}

std::string TextTable::render_csv() const {
  auto line = [](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < cells.size(); ++i) s += (i ? "," : "") + csv_field(cells[i]);
    return s + "\r\n";
  };
  std::string out = line(headers);
  for (const auto& r : rows) out += line(r);
  return out;
}

}  // namespace bp::cli

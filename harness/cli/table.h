#pragma once
// Tables for the terminal (aligned columns), markdown and CSV (RFC 4180 quoting).
#include <string>
#include <vector>

namespace bp::cli {

struct TextTable {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;

  std::string render_text() const;      // columns padded to their widest cell, two spaces apart
  std::string render_markdown() const;  // GitHub table; '|' in cells escaped
  std::string render_csv() const;
};

std::string csv_field(const std::string& s);

}  // namespace bp::cli

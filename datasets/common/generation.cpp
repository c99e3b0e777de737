#include "datasets/common/generation.h"

#include <algorithm>
#include <cctype>

#include "datasets/common/logprob.h"

namespace bp::data {

Continuation greedy_continue(rt::Session& s, std::span<const int32_t> prompt, int max_new,
                             const std::vector<std::string>& stops) {
  Continuation c;
  c.stop = "max_tokens";
  if (max_new <= 0) return c;
  const rt::Tokenizer& tok = s.model().tokenizer();
  const int V = s.model().config().vocab_size;
  const float* logits = s.prefill(prompt, rt::Logits::Last);
  for (int step = 0; step < max_new; ++step) {
    const int32_t next = argmax(logits, V);
    if (next == tok.eos_id()) {
      c.stop = "eos";
      break;
    }
    c.ids.push_back(next);
    c.text = tok.decode(c.ids);
    bool stopped = false;
    for (const std::string& st : stops) {
      size_t at = c.text.find(st);
      if (at != std::string::npos) {
        c.text.resize(at);
        c.stop = st;
        stopped = true;
        break;
      }
    }
    if (stopped || step + 1 == max_new) break;
    logits = s.decode(std::span<const int32_t>(&c.ids.back(), 1), rt::Logits::Last);
  }
  return c;
}

std::optional<std::string> first_integer(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) continue;
    size_t j = i;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
    const bool neg = i > 0 && text[i - 1] == '-';
    return (neg ? "-" : "") + text.substr(i, j - i);
  }
  return std::nullopt;
}

std::optional<std::string> normalize_number(const std::string& in) {
  std::string s;
  for (char c : in)
    if (c != ',' && c != '$' && !std::isspace(static_cast<unsigned char>(c))) s += c;
  while (!s.empty() && s.back() == '.') s.pop_back();
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.erase(0, 1);
  }
  if (s.empty()) return std::nullopt;
  size_t dot = s.find('.');
  std::string ip = s.substr(0, dot), fp = dot == std::string::npos ? "" : s.substr(dot + 1);
  auto digits = [](const std::string& x) {
    return std::all_of(x.begin(), x.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  };
  if (!digits(ip) || !digits(fp) || (ip.empty() && fp.empty())) return std::nullopt;
  while (!fp.empty() && fp.back() == '0') fp.pop_back();
  size_t nz = ip.find_first_not_of('0');
  ip = nz == std::string::npos ? "0" : ip.substr(nz);
  std::string out = fp.empty() ? ip : ip + "." + fp;
  if (neg && out != "0") out = "-" + out;
  return out;
}

std::optional<std::string> last_number(const std::string& text) {
  std::optional<std::string> last;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    size_t start = i;
    if (start > 0 && text[start - 1] == '-') --start;
    size_t j = i;
    // Digits with thousands separators and one decimal point: "1,234.5".
    while (j < text.size()) {
      const char c = text[j];
      if (std::isdigit(static_cast<unsigned char>(c))) ++j;
      else if ((c == ',' || c == '.') && j + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[j + 1]))) ++j;
      else break;
    }
    if (auto n = normalize_number(text.substr(start, j - start))) last = n;
    i = j;
  }
  return last;
}

}  // namespace bp::data

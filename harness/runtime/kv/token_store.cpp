#include "harness/runtime/kv/token_store.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "harness/runtime/kv/partial.h"
#include "kernels/cpu/packed_attention.h"

namespace bp::rt::kv {

namespace {

kern::KvLayout side_layout(kern::KvRole role, int D, const TokenFormat& f) {
  kern::KvLayout L;
  L.role = role;
  L.head_dim = D;
  L.bits = f.bits;
  L.axis = kern::KvAxis::PerToken;
  L.group = f.group;
  L.symmetric = f.symmetric;
  return L;
}

void add_bytes(KvBytes& b, const kern::KvStoreBytes& s) {
  b.payload += s.codes;
  b.scales += s.scales;
  b.zeros += s.mins;
}

// Moves token src's codes and stats to token dst (dst <= src) inside one per-token store.
void move_token(const kern::PackedKvMut& s, int64_t dst, int64_t src) {
  const kern::KvLayout& L = s.layout;
  const int D = L.head_dim, G = kern::kv_group(L);
  if (L.role == kern::KvRole::Values) {
    const int64_t rb = kern::value_row_bytes(L);
    std::memmove(s.codes + dst * rb, s.codes + src * rb, (size_t)rb);
  } else {
    for (int d = 0; d < D; ++d) {
      const kern::KvCodeRef a = kern::kv_code_ref(L, src, d), b = kern::kv_code_ref(L, dst, d);
      const int c = kern::get_code(s.codes + a.run_byte, a.index, a.run_len, L.bits);
      kern::set_code(s.codes + b.run_byte, b.index, b.run_len, L.bits, c);
    }
  }
  for (int g0 = 0; g0 < D; g0 += G) {
    const int64_t a = kern::kv_stat_index(L, src, g0), b = kern::kv_stat_index(L, dst, g0);
    s.scales[b] = s.scales[a];
    if (s.mins) s.mins[b] = s.mins[a];
  }
}

}  // namespace

std::string TokenFormat::label() const {
  if (!packed()) return "fp16";
  std::string s = "int" + std::to_string(bits);
  if (group) s += "-g" + std::to_string(group);
  if (symmetric) s += "-sym";
  return s;
}

const char* TokenFormat::error(int head_dim) const {
  if (bits != 16 && !kern::valid_bits(bits)) return "bits must be 16 (FP16), 8, 4 or 2";
  if (!packed()) return nullptr;
  if (group < 0) return "group must be >= 0";
  return kern::kv_layout_error(side_layout(kern::KvRole::Keys, head_dim, *this));
}

TokenStore::TokenStore(int head_dim, const TokenFormat& format) : D_(head_dim), fmt_(format) {
  if (const char* e = format.error(head_dim))
    throw std::invalid_argument("TokenStore " + format.label() + ": " + e);
  if (fmt_.packed()) {
    pk_ = kern::KvStore(side_layout(kern::KvRole::Keys, D_, fmt_));
    pv_ = kern::KvStore(side_layout(kern::KvRole::Values, D_, fmt_));
  } else {
    hk_ = HalfRows(D_);
    hv_ = HalfRows(D_);
  }
  sync_views();
}

void TokenStore::sync_views() {
  if (!fmt_.packed()) return;
  kview_ = pk_.view();
  vview_ = pv_.view();
}

void TokenStore::reserve(int64_t tokens) {
  if (fmt_.packed()) {
    pk_.reserve(tokens);
    pv_.reserve(tokens);
  } else {
    hk_.reserve(tokens);
    hv_.reserve(tokens);
  }
  sync_views();
}

void TokenStore::append(const float* k, const float* v, int64_t stride, int64_t n) {
  if (n <= 0) return;
  if (fmt_.packed()) {
    pk_.resize(n_ + n);
    pv_.resize(n_ + n);
    kern::kv_quantize(pk_.mut(), k, stride, n_, (int)n);
    kern::kv_quantize(pv_.mut(), v, stride, n_, (int)n);
  } else {
    hk_.append(k, stride, n);
    hv_.append(v, stride, n);
  }
  n_ += n;
  sync_views();
}

void TokenStore::overwrite(int64_t t, const float* k, const float* v) {
  if (t < 0 || t >= n_) throw std::out_of_range("TokenStore::overwrite: token outside the store");
  if (fmt_.packed()) {
    kern::kv_quantize(pk_.mut(), k, D_, t, 1);
    kern::kv_quantize(pv_.mut(), v, D_, t, 1);
  } else {
    hk_.set(t, k);
    hv_.set(t, v);
  }
}

void TokenStore::keep(const int32_t* idx, int64_t n) {
  int64_t prev = -1;
  for (int64_t j = 0; j < n; ++j) {
    if (idx[j] <= prev || idx[j] >= n_)
      throw std::invalid_argument("TokenStore::keep: indices must be ascending, unique and inside the store");
    prev = idx[j];
  }
  if (fmt_.packed()) {
    const kern::PackedKvMut km = pk_.mut(), vm = pv_.mut();
    // idx[j] >= j: moving forward never overwrites a token still to be read.
    for (int64_t j = 0; j < n; ++j)
      if (idx[j] != j) {
        move_token(km, j, idx[j]);
        move_token(vm, j, idx[j]);
      }
    pk_.resize(n);
    pv_.resize(n);
  } else {
    hk_.keep(idx, n);
    hv_.keep(idx, n);
  }
  n_ = n;
  sync_views();
}

void TokenStore::remove(const std::vector<int32_t>& idx) {
  std::vector<int32_t> kept;
  kept.reserve((size_t)std::max<int64_t>(0, n_ - (int64_t)idx.size()));
  size_t r = 0;
  for (int32_t t = 0; t < (int32_t)n_; ++t) {
    if (r < idx.size() && idx[r] == t) {
      ++r;
      continue;
    }
    kept.push_back(t);
  }
  if (r != idx.size())
    throw std::invalid_argument("TokenStore::remove: indices must be ascending, unique and inside the store");
  keep(kept);
}

void TokenStore::erase_front(int64_t n) {
  if (n < 0 || n > n_) throw std::out_of_range("TokenStore::erase_front: more tokens than held");
  if (n == 0) return;
  if (!fmt_.packed()) {
    hk_.erase_front(n);
    hv_.erase_front(n);
    n_ -= n;
    return;
  }
  std::vector<int32_t> kept((size_t)(n_ - n));
  for (size_t j = 0; j < kept.size(); ++j) kept[j] = (int32_t)(n + (int64_t)j);
  keep(kept);
}

void TokenStore::clear() {
  n_ = 0;
  if (fmt_.packed()) {
    pk_.clear();
    pv_.clear();
  } else {
    hk_.clear();
    hv_.clear();
  }
  sync_views();
}

void TokenStore::attend(const float* q, int m, float* max, float* sum, float* acc, int64_t t0, int64_t t1) const {
  if (t1 < 0) t1 = n_;
  if (t0 < 0 || t1 > n_ || t0 > t1) throw std::out_of_range("TokenStore::attend: range outside the store");
  attend_rows(q, D_, m, D_, key_rows(t0), value_rows(t0), t1 - t0, max, sum, acc);
}

void TokenStore::scores(const float* q, int m, float* out, int64_t out_stride, int64_t t0, int64_t t1) const {
  if (t1 < 0) t1 = n_;
  if (t0 < 0 || t1 > n_ || t0 > t1) throw std::out_of_range("TokenStore::scores: range outside the store");
  score_rows(q, D_, m, D_, key_rows(t0), t1 - t0, out, out_stride);
}

void TokenStore::read(int64_t t0, int64_t n, float* k, float* v, int64_t stride) const {
  if (t0 < 0 || n < 0 || t0 + n > n_) throw std::out_of_range("TokenStore::read: range outside the store");
  if (k) read_rows(key_rows(t0), D_, 0, n, k, stride);
  if (v) read_rows(value_rows(t0), D_, 0, n, v, stride);
}

Rows TokenStore::key_rows(int64_t t0) const {
  return fmt_.packed() ? Rows::of(kview_, t0) : Rows::of_f16(hk_.data() + t0 * D_, D_);
}

Rows TokenStore::value_rows(int64_t t0) const {
  return fmt_.packed() ? Rows::of(vview_, t0) : Rows::of_f16(hv_.data() + t0 * D_, D_);
}

KvBytes TokenStore::bytes() const {
  KvBytes b;
  if (fmt_.packed()) {
    add_bytes(b, kern::kv_store_bytes(pk_.layout(), n_));
    add_bytes(b, kern::kv_store_bytes(pv_.layout(), n_));
  } else {
    b.payload = hk_.bytes() + hv_.bytes();
  }
  return b;
}

size_t TokenStore::allocated() const {
  if (fmt_.packed()) return pk_.bytes().total() + pv_.bytes().total();
  return hk_.allocated() + hv_.allocated();
}

// ---- TokenStoreGrid -----------------------------------------------------------------------------------------

TokenStoreGrid::TokenStoreGrid(int n_layers, int n_kv_heads, int head_dim, const TokenFormat& format)
    : layers_(n_layers), hkv_(n_kv_heads), D_(head_dim) {
  s_.reserve((size_t)n_layers * n_kv_heads);
  for (int i = 0; i < n_layers * n_kv_heads; ++i) s_.emplace_back(head_dim, format);
}

void TokenStoreGrid::append_layer(int layer, const float* k, const float* v, int64_t n) {
  for (int h = 0; h < hkv_; ++h) at(layer, h).append(k + (size_t)h * D_, v + (size_t)h * D_, (int64_t)hkv_ * D_, n);
}

KvBytes TokenStoreGrid::bytes() const {
  KvBytes b;
  for (const auto& s : s_) b += s.bytes();
  return b;
}

size_t TokenStoreGrid::allocated() const {
  size_t b = 0;
  for (const auto& s : s_) b += s.allocated();
  return b;
}

void TokenStoreGrid::clear() {
  for (auto& s : s_) s.clear();
}

}  // namespace bp::rt::kv

#pragma once
// Capacity policy of the KV caches' growing buffers (host std::vector storage, and device buffers through the plain
// count functions), one place for every cache.
//
// Why: a cache reports two figures, the bytes of the state it holds and the bytes it has allocated. std::vector's
// own growth doubles the capacity, so right after a prefill or a decode step a cache could hold up to 2x the
// memory its state needs, and a buffer that shrank by eviction would keep its old capacity for ever. Here:
//   - growth: to max(needed, capacity + capacity/8), rounded up to `quantum` elements (a whole number of tokens'
//     rows, chosen by the caller). Amortized appends stay O(1) per element (geometric, factor 9/8), and the slack
//     is at most 1/8 of the capacity plus one quantum;
//   - shrink: when the size drops so that more than a quarter of the capacity (plus one quantum) would be spare,
//     the buffer is reallocated to size rounded up to `quantum` (eviction, flushes of FP16 windows). Growth never
//     leaves that much spare, so a buffer does not oscillate between the two;
//   - release: clear_and_release() frees everything (a new sequence, a buffer emptied after use).
// Capacity never changes the contents, so results do not depend on this policy.
#include <algorithm>
#include <cstddef>
#include <vector>

namespace bp::kern {

inline size_t round_up_elems(size_t n, size_t quantum) {
  return quantum > 1 ? (n + quantum - 1) / quantum * quantum : n;
}

// The same rules on plain counts (device buffers, whose owners reallocate themselves): the capacity to grow to
// for `needed` (> cap), and whether a buffer of capacity `cap` holding `n` should shrink (to round_up_elems(n)).
inline size_t grown_capacity(size_t cap, size_t needed, size_t quantum) {
  return round_up_elems(std::max(needed, cap + cap / 8), quantum);
}
inline bool should_shrink(size_t cap, size_t n, size_t quantum) {
  return cap > round_up_elems(n + n / 4, quantum) + quantum;
}

// Reallocates v to exactly `capacity` elements (>= size), keeping its contents. Exact where reserve() on a
// vector that already has capacity would not shrink.
template <class T>
void set_capacity(std::vector<T>& v, size_t capacity) {
  if (capacity == v.capacity()) return;
  std::vector<T> fresh;
  fresh.reserve(std::max(capacity, v.size()));
  fresh.assign(v.begin(), v.end());
  v.swap(fresh);
}

// Makes room for `needed` elements under the growth rule above (no-op when the capacity suffices).
template <class T>
void reserve_bounded(std::vector<T>& v, size_t needed, size_t quantum) {
  if (needed <= v.capacity()) return;
  set_capacity(v, grown_capacity(v.capacity(), needed, quantum));
}

// Shrinks v after its size dropped, under the shrink rule above.
template <class T>
void shrink_bounded(std::vector<T>& v, size_t quantum) {
  const size_t n = v.size();
  if (should_shrink(v.capacity(), n, quantum)) set_capacity(v, round_up_elems(n, quantum));
}

// resize() under both rules: grows or shrinks the capacity as above, then sets the size (new elements
// value-initialized, as std::vector::resize does).
template <class T>
void resize_bounded(std::vector<T>& v, size_t n, size_t quantum) {
  reserve_bounded(v, n, quantum);
  v.resize(n);
  shrink_bounded(v, quantum);
}

template <class T>
void clear_and_release(std::vector<T>& v) {
  std::vector<T>().swap(v);
}

// Bytes a vector has allocated (its capacity, whatever its size).
template <class T>
size_t allocated_bytes(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
}

}  // namespace bp::kern

// Replacement of every global operator new/delete (C++17 set: plain, array, nothrow, aligned, sized) for the
// test_kv_alloc executable. Each block is malloc'd with a header in front holding the requested size and a
// "counted" flag, so that a block freed after the counting scope ended (or allocated before it began) never
// corrupts the count.
#include "tests/alloc/counting_allocator.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace bp::test::alloc {
namespace {

std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_live{0};

struct Header {
  size_t size;
  size_t counted;  // also keeps the header 16 bytes: plain blocks stay aligned to alignof(max_align_t)
};
static_assert(sizeof(Header) == 16 && alignof(std::max_align_t) <= 16);

// Header right in front of the user pointer; `base` is what malloc/aligned_alloc returned.
void* finish(void* base, size_t offset, size_t n) {
  if (!base) return nullptr;
  char* user = static_cast<char*>(base) + offset;
  Header* h = reinterpret_cast<Header*>(user) - 1;
  h->size = n;
  h->counted = g_counting.load(std::memory_order_relaxed) ? 1 : 0;
  if (h->counted) g_live.fetch_add((int64_t)n, std::memory_order_relaxed);
  return user;
}

void* allocate(size_t n, size_t align) {
  if (align <= 16) return finish(std::malloc(n + 16), 16, n);
  // Over-aligned: the user pointer is base + align (a multiple of align), the header in the bytes before it.
  const size_t total = (n + 2 * align - 1) / align * align;
  return finish(std::aligned_alloc(align, total), align, n);
}

void release(void* p, size_t align) {
  if (!p) return;
  Header* h = static_cast<Header*>(p) - 1;
  if (h->counted) g_live.fetch_sub((int64_t)h->size, std::memory_order_relaxed);
  std::free(static_cast<char*>(p) - (align <= 16 ? 16 : align));
}

void* allocate_or_throw(size_t n, size_t align) {
  void* p = allocate(n, align);
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace

CountingScope::CountingScope() { g_counting.store(true); }
CountingScope::~CountingScope() { g_counting.store(false); }
int64_t live() { return g_live.load(); }
size_t block_size(const void* p) { return (static_cast<const Header*>(p) - 1)->size; }

}  // namespace bp::test::alloc

namespace a = bp::test::alloc;

void* operator new(size_t n) { return a::allocate_or_throw(n, 0); }
void* operator new[](size_t n) { return a::allocate_or_throw(n, 0); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return a::allocate(n, 0); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return a::allocate(n, 0); }
void* operator new(size_t n, std::align_val_t al) { return a::allocate_or_throw(n, (size_t)al); }
void* operator new[](size_t n, std::align_val_t al) { return a::allocate_or_throw(n, (size_t)al); }
void* operator new(size_t n, std::align_val_t al, const std::nothrow_t&) noexcept { return a::allocate(n, (size_t)al); }
void* operator new[](size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return a::allocate(n, (size_t)al);
}
void operator delete(void* p) noexcept { a::release(p, 0); }
void operator delete[](void* p) noexcept { a::release(p, 0); }
void operator delete(void* p, size_t) noexcept { a::release(p, 0); }
void operator delete[](void* p, size_t) noexcept { a::release(p, 0); }
void operator delete(void* p, const std::nothrow_t&) noexcept { a::release(p, 0); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { a::release(p, 0); }
void operator delete(void* p, std::align_val_t al) noexcept { a::release(p, (size_t)al); }
void operator delete[](void* p, std::align_val_t al) noexcept { a::release(p, (size_t)al); }
void operator delete(void* p, size_t, std::align_val_t al) noexcept { a::release(p, (size_t)al); }
void operator delete[](void* p, size_t, std::align_val_t al) noexcept { a::release(p, (size_t)al); }
void operator delete(void* p, std::align_val_t al, const std::nothrow_t&) noexcept { a::release(p, (size_t)al); }
void operator delete[](void* p, std::align_val_t al, const std::nothrow_t&) noexcept { a::release(p, (size_t)al); }

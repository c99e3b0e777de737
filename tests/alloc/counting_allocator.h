#pragma once
// A counting global operator new/delete for the test_kv_alloc executable only (counting_allocator.cpp replaces the
// global allocation functions of that executable). Every block carries a small header with its requested size and
// whether it was allocated while counting was on; live() is the bytes of counted blocks not yet freed, from any
// thread. So "the heap bytes an object holds" = live() after creating and using it inside a counting scope, minus
// live() before.
#include <cstddef>
#include <cstdint>

namespace bp::test::alloc {

// Turns counting on for the lifetime of the object (blocks allocated meanwhile are counted until they are freed,
// whenever that happens). Not nested.
class CountingScope {
 public:
  CountingScope();
  ~CountingScope();
  CountingScope(const CountingScope&) = delete;
  CountingScope& operator=(const CountingScope&) = delete;
};

// Bytes of counted blocks still allocated (requested sizes, as operator new was asked).
int64_t live();
// The requested size of the block at p, which must have come from a plain (not over-aligned) operator new.
size_t block_size(const void* p);

}  // namespace bp::test::alloc

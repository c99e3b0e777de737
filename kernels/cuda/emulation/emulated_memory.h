#pragma once
// Bookkeeping of the emulated device memory (README.md here): the emulated cuBLAS keeps a packed copy of each weight
// matrix it has seen, keyed by its "device" pointer, and must forget it when that memory is freed (a later
// allocation may reuse the address).
#include <cstddef>

namespace bp::kern::cuda::emu {

void on_alloc(void* p, size_t bytes);
void on_free(void* p, size_t bytes);

}  // namespace bp::kern::cuda::emu

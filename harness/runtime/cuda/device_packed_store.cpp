#include "harness/runtime/cuda/device_packed_store.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/common/buffer_capacity.h"
#include "kernels/cuda/model_ops.h"

namespace bp::rt::cuda {

namespace kc = bp::kern::cuda;

DevicePackedStore::DevicePackedStore(const kern::KvLayout& layout) : layout_(layout) {
  if (const char* e = kern::kv_layout_error(layout)) throw std::invalid_argument(std::string("KV layout: ") + e);
}

void DevicePackedStore::reserve(int64_t tokens, void* stream) {
  if (tokens <= cap_) return;
  const int64_t cap = (int64_t)kern::grown_capacity((size_t)cap_, (size_t)tokens, kern::kKeyTile);
  const kern::KvStoreBytes nb = kern::kv_store_bytes(layout_, cap), ob = kern::kv_store_bytes(layout_, cap_);
  kc::DeviceBuffer codes(nb.codes), scales(nb.scales), mins(std::max<size_t>(nb.mins, 1));
  kc::zero(codes.get(), nb.codes, stream);
  if (cap_ > 0) {
    kc::memcpy_d2d(codes.get(), codes_.get(), ob.codes, stream);
    kc::memcpy_d2d(scales.get(), scales_.get(), ob.scales, stream);
    if (ob.mins) kc::memcpy_d2d(mins.get(), mins_.get(), ob.mins, stream);
  }
  kc::stream_sync(stream);  // the old buffers are freed below
  codes_ = std::move(codes);
  scales_ = std::move(scales);
  mins_ = std::move(mins);
  cap_ = cap;
}

kern::PackedKvMut DevicePackedStore::mut(int64_t tokens) const {
  kern::PackedKvMut v;
  v.layout = layout_;
  v.tokens = tokens;
  v.codes = codes_.as<uint8_t>();
  v.scales = scales_.as<uint16_t>();
  v.mins = layout_.symmetric ? nullptr : mins_.as<uint16_t>();
  return v;
}

}  // namespace bp::rt::cuda

#pragma once
// A DeviceSession implemented on the CPU, for tests: it runs an ordinary CPU Session behind the device interface,
// so code that drives sessions (tasks, the runner) can be exercised on the device path of rt::Session without a
// GPU. Everything a task does on a device session must go through the device-safe Session API (kv_bytes(),
// kv_stats(), ...); a call that only works for CPU caches (Session::cache()) fails here as it would on CUDA.
#include <algorithm>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "harness/runtime/device_session.h"
#include "harness/runtime/model.h"

namespace bp::test {

class CpuDeviceSession : public rt::DeviceSession {
 public:
  explicit CpuDeviceSession(std::unique_ptr<rt::Session> inner) : inner_(std::move(inner)) {}
  void run(std::span<const int32_t> tokens, int64_t n_past, rt::Phase phase, rt::Logits which,
           std::vector<float>& logits) override {
    if (n_past != inner_->n_past()) throw std::logic_error("CpuDeviceSession: positions out of step");
    const float* l = phase == rt::Phase::Prefill ? inner_->prefill(tokens, which) : inner_->decode(tokens, which);
    if (l) std::copy_n(l, logits.size(), logits.begin());
  }
  rt::KvBytes kv_bytes() const override { return inner_->kv_bytes(); }
  size_t kv_bytes_allocated() const override { return inner_->kv_bytes_allocated(); }
  nlohmann::json kv_stats() const override { return inner_->kv_stats(); }
  void reset() override { inner_->reset(); }
  std::string device_name() const override { return "cpu-as-device"; }

 private:
  std::unique_ptr<rt::Session> inner_;
};

// `inner` behind the device interface of a Session on the same model.
inline std::unique_ptr<rt::Session> as_device_session(std::unique_ptr<rt::Session> inner) {
  const rt::Model& m = inner->model();
  const int threads = inner->threads();
  return std::make_unique<rt::Session>(m, std::make_unique<CpuDeviceSession>(std::move(inner)), threads);
}

}  // namespace bp::test

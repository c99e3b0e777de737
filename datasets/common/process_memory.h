#pragma once
// Peak resident memory of this process (Linux /proc), for the memory metrics of the latency task.
#include <cstdint>
#include <optional>

namespace bp::data {

// Resets the peak-RSS high-water mark (VmHWM) by writing "5" to /proc/self/clear_refs. Returns whether the kernel
// accepted it (older kernels or restricted /proc refuse; VmHWM then stays the peak since the process started).
bool reset_peak_rss();
// VmHWM of /proc/self/status in bytes; nullopt where unavailable.
std::optional<uint64_t> peak_rss_bytes();
// VmRSS (current resident memory) in bytes; nullopt where unavailable.
std::optional<uint64_t> current_rss_bytes();

}  // namespace bp::data

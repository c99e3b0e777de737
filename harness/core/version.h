#pragma once
// BenchPress's own version, stored with every run. Bump on releases; the build id (sha256 of the executable)
// identifies builds between releases.
namespace bp {
inline constexpr const char* kBenchVersion = "0.1.0";
}

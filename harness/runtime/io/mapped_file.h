#pragma once
// Read-only memory mapping of a whole file. Model files are large and read once per load; mapping them lets the
// loader hand out pointers into the file (TensorRef::data) without copying, and lets the kernel page in lazily.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace bp::rt {

class MappedFile {
 public:
  // Throws bp::InputError when the file cannot be opened or mapped. An empty file maps to size() == 0.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  void* map_ = nullptr;  // nullptr for empty files (mmap rejects length 0)
};

}  // namespace bp::rt

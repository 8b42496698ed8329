#include "core/mmap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "core/byte_io.h"
#include "core/error.h"

namespace omni {
namespace {

std::string temp_file(const std::string& name, const std::vector<uint8_t>& bytes) {
  const auto path = (std::filesystem::temp_directory_path() / name).string();
  write_file_bytes(path, bytes);
  return path;
}

TEST(Mapping, MapsTheBytesAndTheReadAheadHintChangesNothing) {
  std::vector<uint8_t> bytes(3 * 4096 + 17);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7 + 3);
  const std::string path = temp_file("omni_mapping_test.bin", bytes);
  Mapping m(path);
  m.advise_will_need();
  ASSERT_EQ(m.bytes().size(), bytes.size());
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), m.bytes().begin()));
  std::filesystem::remove(path);
}

TEST(Mapping, EmptyFileGivesAnEmptyMappingThatAcceptsTheHint) {
  const std::string path = temp_file("omni_mapping_empty.bin", {});
  Mapping m(path);
  m.advise_will_need();
  EXPECT_TRUE(m.bytes().empty());
  std::filesystem::remove(path);
}

TEST(Mapping, MissingFileAndFolderAreClearErrors) {
  EXPECT_THROW(Mapping("/nonexistent/omni/file.gguf"), Error);
  EXPECT_THROW(Mapping(std::filesystem::temp_directory_path().string()), Error);
}

}  // namespace
}  // namespace omni

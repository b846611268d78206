// kfreezed's dump archive as found on disk after a crash or by tampering: the input becomes the
// index file and one dump file ({u16 LE index length; index bytes; dump bytes}). Opening the
// archive must rebuild or refuse, and every read path over what it loaded must hold up.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "server/daemon/archive.h"
#include "spdlog/spdlog.h"
#include "tests/support/temp_dir.h"

namespace {

void WriteFile(const std::filesystem::path& p, const uint8_t* data, size_t size) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const kfreeze::testing::TempDir tmp = [] {
    spdlog::set_level(spdlog::level::off);
    return kfreeze::testing::TempDir("kfreeze-archive-fuzz");
  }();
  const std::filesystem::path dir(tmp.path());
  if (size < 2) return 0;
  uint16_t index_len;
  std::memcpy(&index_len, data, 2);
  const size_t n = std::min<size_t>(index_len, size - 2);
  std::filesystem::remove_all(dir / "dumps");
  std::filesystem::create_directories(dir / "dumps");
  WriteFile(dir / "index.binpb", data + 2, n);
  WriteFile(dir / "dumps" / "t-1.binpb", data + 2 + n, size - 2 - n);
  auto archive = kfreeze::server::DumpArchive::Open(dir.string(), {.max_count = 4});
  if (archive.ok()) {
    kfreeze::server::DumpFilter filter;
    bool more = false;
    for (const auto& s : (*archive)->List(filter, 0, 16, &more)) {
      (void)(*archive)->Get(s.dump_id());
    }
    (void)(*archive)->After(0);
    (void)(*archive)->Prune();
  }
  return 0;
}

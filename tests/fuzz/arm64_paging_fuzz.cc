// libFuzzer over arm64 page walks (core/mem/arm64_paging.cc) with every table byte guest-chosen:
// the input picks a granule, a VA size and LPA2/LPA, fills 256 KiB of RAM at QEMU virt's base
// with its own bytes (tables, loops, blocks at any level, output addresses anywhere), picks the
// root and the addresses; then Translator::Walk and a Reader's cached reads.
// Invariants (abort on violation): a walk fails only with a guest fault; a translation keeps the
// offset within its leaf, ends in a leaf size of the format and is contiguous to the leaf's end;
// a walk is deterministic; a Reader's read agrees with a fresh walk.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/base/status.h"
#include "core/mem/guest_ram.h"
#include "core/mem/reader.h"
#include "core/mem/translator.h"

namespace kfreeze::fuzz {
namespace {

constexpr uint64_t kRamBase = 0x40000000;
constexpr uint64_t kRamBytes = 256 * 1024;

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "arm64_paging_fuzz: invariant failed: %s (line %d)\n", #cond, \
                   __LINE__);                                                            \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

// One RAM file for the process; each input overwrites it.
struct Ram {
  Ram() {
    fd = memfd_create("arm64-paging-fuzz", 0);
    if (fd < 0 || ftruncate(fd, kRamBytes) != 0) std::abort();
    bytes =
        static_cast<uint8_t*>(mmap(nullptr, kRamBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    if (bytes == MAP_FAILED) std::abort();
    ram = *GuestRam::OpenFd(fd, *RamLayout::Parse("0x40000000:256K@0", kRamBytes));
  }
  int fd;
  uint8_t* bytes;
  std::unique_ptr<GuestRam> ram;
};

uint64_t U64(const uint8_t* data, size_t size, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && at + i < size; ++i) v |= uint64_t{data[at + i]} << (8 * i);
  return v;
}

}  // namespace
}  // namespace kfreeze::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kfreeze;
  using namespace kfreeze::fuzz;
  static Ram* ram = new Ram();
  if (size < 16) return 0;
  static constexpr int kShifts[] = {12, 14, 16, 12};
  const Arm64Geometry geometry{kShifts[data[0] & 3], 25 + data[1] % 28, (data[2] & 1) != 0};
  absl::StatusOr<std::shared_ptr<const PageTableFormat>> format = Arm64PageTables(geometry);
  if (!format.ok()) return 0;
  // The tables: the input's bytes, repeated over RAM so every table the walk reaches is chosen.
  const uint8_t* tables = data + 16;
  const size_t table_bytes = size - 16;
  if (table_bytes == 0) return 0;
  for (uint64_t off = 0; off < kRamBytes; off += table_bytes) {
    std::memcpy(ram->bytes + off, tables, std::min<uint64_t>(table_bytes, kRamBytes - off));
  }
  PagingConfig config;
  config.format = *format;
  config.root = Pa(kRamBase + (U64(data, size, 3) % kRamBytes));
  const Translator translator(*ram->ram, config);
  Reader reader(translator);
  const LeafShifts shifts = (*format)->leaf_shifts();
  for (size_t i = 0; i < 8; ++i) {
    // Mostly TTBR1 addresses (top bits ones), sometimes anything.
    uint64_t va = U64(data, size, 16 + 8 * i);
    if ((data[11] >> (i % 8)) & 1) va |= ~0ull << geometry.va_bits;
    absl::StatusOr<Translation> t = translator.Walk(Kva(va));
    if (!t.ok()) {
      FUZZ_CHECK(IsFault(t.status()));
      continue;
    }
    bool known_leaf = false;
    for (int k = 0; k < shifts.count; ++k) known_leaf |= t->leaf_bytes == (1ull << shifts.shift[k]);
    FUZZ_CHECK(known_leaf);
    FUZZ_CHECK((t->pa.value & (t->leaf_bytes - 1)) == (va & (t->leaf_bytes - 1)));
    FUZZ_CHECK(t->contiguous == t->leaf_bytes - (va & (t->leaf_bytes - 1)));
    absl::StatusOr<Translation> again = translator.Walk(Kva(va));
    FUZZ_CHECK(again.ok() && again->pa == t->pa);
    // Cached reads: twice (the second from the Reader's TLB), each equal to the RAM behind it.
    for (int pass = 0; pass < 2; ++pass) {
      absl::StatusOr<uint64_t> v = reader.ReadU64(Kva(va & ~7ull));
      absl::StatusOr<uint64_t> direct = ram->ram->ReadU64(Pa(t->pa.value & ~7ull));
      if (v.ok() && direct.ok() && t->contiguous >= 8) FUZZ_CHECK(*v == *direct);
    }
  }
  return 0;
}

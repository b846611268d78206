#include "core/walkers/common/cpulist.h"

#include "absl/strings/str_cat.h"

namespace kfreeze::walkers {

std::string FormatCpuList(std::span<const uint64_t> words, uint32_t nbits) {
  auto bit = [&](uint32_t i) { return i / 64 < words.size() && ((words[i / 64] >> (i % 64)) & 1); };
  std::string out;
  for (uint32_t i = 0; i < nbits;) {
    if (!bit(i)) {
      ++i;
      continue;
    }
    uint32_t j = i;
    while (j + 1 < nbits && bit(j + 1)) ++j;
    if (!out.empty()) out += ',';
    absl::StrAppend(&out, i);
    if (j > i) absl::StrAppend(&out, "-", j);
    i = j + 1;
  }
  return out;
}

}  // namespace kfreeze::walkers

// cpumask bits -> the kernel's cpulist text ("0-3,8"), as in /proc/<pid>/status Cpus_allowed_list.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace kfreeze::walkers {

// Bits [0, nbits) of little-endian unsigned-long words; "" when none is set.
std::string FormatCpuList(std::span<const uint64_t> words, uint32_t nbits);

}  // namespace kfreeze::walkers

#include "core/dump/hmp_registers_arm64.h"

#include <array>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kfreeze::dump {
namespace {

using absl::string_view;

// Calls fn(name, value) for every whitespace-separated "NAME=VALUE" token, in order; one pass, so
// hostile text costs its length once.
template <typename Fn>
void ForEachAssignment(string_view block, Fn fn) {
  size_t i = 0;
  while (i < block.size()) {
    while (i < block.size() && absl::ascii_isspace(static_cast<unsigned char>(block[i]))) ++i;
    size_t start = i;
    while (i < block.size() && !absl::ascii_isspace(static_cast<unsigned char>(block[i]))) ++i;
    string_view token = block.substr(start, i - start);
    size_t eq = token.find('=');
    if (eq != string_view::npos && eq > 0) fn(token.substr(0, eq), token.substr(eq + 1));
  }
}

// 1 to 16 hex digits and nothing else: a value that does not fit 64 bits is unreadable, not cut.
std::optional<uint64_t> Hex(string_view value) {
  if (value.empty() || value.size() > 16) return std::nullopt;
  for (char c : value) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  uint64_t v = 0;
  if (!absl::SimpleHexAtoi(value, &v)) return std::nullopt;
  return v;
}

// "X07" -> 7 for prefix 'X' and limit 31 (QEMU prints the index with exactly two digits).
std::optional<size_t> Indexed(string_view name, char prefix, size_t limit) {
  if (name.size() != 3 || name[0] != prefix || !absl::ascii_isdigit(name[1]) ||
      !absl::ascii_isdigit(name[2])) {
    return std::nullopt;
  }
  size_t index = static_cast<size_t>((name[1] - '0') * 10 + (name[2] - '0'));
  if (index >= limit) return std::nullopt;
  return index;
}

// The registers a block names, each at its first well-formed occurrence.
struct ArmValues {
  std::optional<uint64_t> pc, sp, pstate, psr;
  std::array<std::optional<uint64_t>, 31> x;
  std::array<std::optional<uint64_t>, 16> r;
};

void Keep(std::optional<uint64_t>& slot, string_view value) {
  if (!slot) slot = Hex(value);
}

ArmValues Collect(string_view block) {
  ArmValues v;
  ForEachAssignment(block, [&v](string_view name, string_view value) {
    if (name == "PC") {
      Keep(v.pc, value);
    } else if (name == "SP") {
      Keep(v.sp, value);
    } else if (name == "PSTATE") {
      Keep(v.pstate, value);
    } else if (name == "PSR") {
      Keep(v.psr, value);
    } else if (std::optional<size_t> x = Indexed(name, 'X', 31)) {
      Keep(v.x[*x], value);
    } else if (std::optional<size_t> r = Indexed(name, 'R', 16)) {
      Keep(v.r[*r], value);
    }
  });
  return v;
}

absl::Status Lacks(uint32_t cpu_index, string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("info registers: CPU#", cpu_index, " lacks ", what));
}

absl::StatusOr<VcpuRegisters> FromAarch64(uint32_t cpu_index, const ArmValues& v) {
  if (!v.pc) return Lacks(cpu_index, "PC");
  if (!v.sp) return Lacks(cpu_index, "SP");
  if (!v.pstate) return Lacks(cpu_index, "PSTATE");
  VcpuRegisters regs;
  regs.cpu_index = cpu_index;
  regs.pc = *v.pc;
  regs.sp = *v.sp;
  const uint8_t el = static_cast<uint8_t>((*v.pstate >> 2) & 3);
  regs.kernel_mode = el != 0;
  for (const std::optional<uint64_t>& x : v.x) {
    if (!x) return regs;  // the basics without the register file, as x86 does
  }
  Arm64RegisterFile& f = regs.arm64.emplace();
  for (size_t i = 0; i < v.x.size(); ++i) f.x[i] = *v.x[i];
  f.sp = *v.sp;
  f.pc = *v.pc;
  f.pstate = *v.pstate;
  f.el = el;
  f.sp_sel = (*v.pstate & 1) != 0;
  return regs;
}

// A 64-bit kernel runs AArch32 only at EL0; the mode field says so for any other guest.
absl::StatusOr<VcpuRegisters> FromAarch32(uint32_t cpu_index, const ArmValues& v) {
  if (!v.r[15]) return Lacks(cpu_index, "R15");
  if (!v.r[13]) return Lacks(cpu_index, "R13");
  if (!v.psr) return Lacks(cpu_index, "PSR");
  VcpuRegisters regs;
  regs.cpu_index = cpu_index;
  regs.pc = *v.r[15];
  regs.sp = *v.r[13];
  regs.kernel_mode = (*v.psr & 0x1f) != 0x10;  // M[4:0] 0b10000 is usr
  return regs;
}

}  // namespace

bool IsArmRegisterBlock(string_view block) {
  bool arm = false;
  ForEachAssignment(block, [&arm](string_view name, string_view) {
    arm = arm || name == "PC" || name == "PSTATE" || name == "PSR";
  });
  return arm;
}

absl::StatusOr<VcpuRegisters> ParseArmRegisterBlock(uint32_t cpu_index, string_view block) {
  const ArmValues v = Collect(block);
  if (!v.pc && !v.pstate && v.psr) return FromAarch32(cpu_index, v);
  return FromAarch64(cpu_index, v);
}

}  // namespace kfreeze::dump

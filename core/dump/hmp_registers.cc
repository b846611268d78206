#include "core/dump/hmp_registers.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/dump/hmp_registers_arm64.h"

namespace kfreeze::dump {
namespace {

using absl::string_view;

// The hex value after "NAME=" where NAME starts a token (line start or after a space), so that
// "CR3=" never matches inside another register's name.
std::optional<uint64_t> FindRegister(string_view block, string_view name) {
  std::string key = absl::StrCat(name, "=");
  size_t pos = 0;
  while ((pos = block.find(key, pos)) != string_view::npos) {
    bool token_start = pos == 0 || block[pos - 1] == ' ' || block[pos - 1] == '\n';
    size_t value_start = pos + key.size();
    if (token_start) {
      size_t end = value_start;
      while (end < block.size() && absl::ascii_isxdigit(static_cast<unsigned char>(block[end]))) {
        ++end;
      }
      uint64_t value = 0;
      if (end > value_start && end - value_start <= 16 &&
          absl::SimpleHexAtoi(block.substr(value_start, end - value_start), &value)) {
        return value;
      }
    }
    pos = value_start;
  }
  return std::nullopt;
}

// A segment line, "FS =0000 00007f1234560000 ffffffff 00c00000": the base after the selector.
std::optional<uint64_t> FindSegmentBase(string_view block, string_view name) {
  std::string key = absl::StrCat(name, " =");
  size_t pos = block.find(key);
  if (pos == string_view::npos || (pos != 0 && block[pos - 1] != '\n')) return std::nullopt;
  string_view rest = block.substr(pos + key.size());
  size_t space = rest.find(' ');
  if (space == string_view::npos) return std::nullopt;
  rest = rest.substr(space + 1);
  size_t end = 0;
  while (end < rest.size() && end <= 16 &&
         absl::ascii_isxdigit(static_cast<unsigned char>(rest[end]))) {
    ++end;
  }
  uint64_t value = 0;
  if (end == 0 || end > 16 || !absl::SimpleHexAtoi(rest.substr(0, end), &value)) {
    return std::nullopt;
  }
  return value;
}

// The full register file when every general-purpose register and the flags are there; segment
// and control registers QEMU left out stay 0.
std::optional<X86RegisterFile> ParseRegisterFile(string_view block) {
  X86RegisterFile f;
  const std::pair<const char*, uint64_t*> required[] = {
      {"RAX", &f.rax}, {"RBX", &f.rbx}, {"RCX", &f.rcx}, {"RDX", &f.rdx},
      {"RSI", &f.rsi}, {"RDI", &f.rdi}, {"RBP", &f.rbp}, {"R8 ", &f.r8},
      {"R9 ", &f.r9},  {"R10", &f.r10}, {"R11", &f.r11}, {"R12", &f.r12},
      {"R13", &f.r13}, {"R14", &f.r14}, {"R15", &f.r15}, {"RFL", &f.rflags}};
  for (const auto& [name, slot] : required) {
    std::optional<uint64_t> v = FindRegister(block, name);
    if (!v) return std::nullopt;
    *slot = *v;
  }
  const std::pair<const char*, uint64_t*> optional[] = {
      {"CR0", &f.cr0}, {"CR2", &f.cr2}, {"CR4", &f.cr4}, {"EFER", &f.efer}};
  for (const auto& [name, slot] : optional) *slot = FindRegister(block, name).value_or(0);
  f.cs = static_cast<uint16_t>(FindRegister(block, "CS ").value_or(0));
  f.ss = static_cast<uint16_t>(FindRegister(block, "SS ").value_or(0));
  f.fs_base = FindSegmentBase(block, "FS").value_or(0);
  f.gs_base = FindSegmentBase(block, "GS").value_or(0);
  return f;
}

absl::StatusOr<VcpuRegisters> ParseX86Block(uint32_t cpu_index, string_view block) {
  VcpuRegisters regs;
  regs.cpu_index = cpu_index;
  std::optional<uint64_t> rip = FindRegister(block, "RIP");
  if (!rip) rip = FindRegister(block, "EIP");
  std::optional<uint64_t> rsp = FindRegister(block, "RSP");
  if (!rsp) rsp = FindRegister(block, "ESP");
  std::optional<uint64_t> cr3 = FindRegister(block, "CR3");
  if (!rip || !rsp || !cr3) {
    return absl::InvalidArgumentError(absl::StrCat("info registers: CPU#", cpu_index, " lacks ",
                                                   !rip   ? "RIP"
                                                   : !rsp ? "RSP"
                                                          : "CR3"));
  }
  regs.pc = *rip;
  regs.sp = *rsp;
  regs.page_table_root = *cr3;
  regs.x86 = ParseRegisterFile(block);
  // Without the register file the privilege level is not known; kernel_mode stays false.
  regs.kernel_mode = regs.x86 && (regs.x86->cs & 3) == 0;
  return regs;
}

// x86 text names RIP (or EIP); an Arm dump has PC/PSTATE (or PSR) and no RIP. Anything else goes
// to the x86 parser, whose "lacks RIP" names what an error reply is missing.
bool IsX86Block(string_view block) {
  return FindRegister(block, "RIP") || FindRegister(block, "EIP") || !IsArmRegisterBlock(block);
}

// "CPU#12" (optionally followed by other text) -> 12.
std::optional<uint32_t> CpuHeader(string_view line) {
  line = absl::StripLeadingAsciiWhitespace(line);
  if (!absl::StartsWith(line, "CPU#")) return std::nullopt;
  line.remove_prefix(4);
  size_t end = 0;
  while (end < line.size() && absl::ascii_isdigit(static_cast<unsigned char>(line[end]))) ++end;
  uint32_t index = 0;
  if (end == 0 || !absl::SimpleAtoi(line.substr(0, end), &index)) return std::nullopt;
  return index;
}

}  // namespace

absl::StatusOr<std::vector<VcpuRegisters>> ParseHmpRegisters(absl::string_view text) {
  if (text.size() > kMaxHmpRegisterText) {
    return absl::InvalidArgumentError(
        absl::StrCat("info registers: ", text.size(), " bytes is not register output"));
  }
  struct Block {
    uint32_t cpu;
    size_t begin;
    size_t end;
  };
  std::vector<Block> blocks;
  size_t line_start = 0;
  while (line_start <= text.size()) {
    size_t nl = text.find('\n', line_start);
    size_t line_end = nl == string_view::npos ? text.size() : nl;
    if (std::optional<uint32_t> cpu = CpuHeader(text.substr(line_start, line_end - line_start))) {
      if (!blocks.empty()) blocks.back().end = line_start;
      if (blocks.size() >= kMaxHmpVcpus) {
        return absl::InvalidArgumentError(
            absl::StrCat("info registers: more than ", kMaxHmpVcpus, " vCPUs"));
      }
      blocks.push_back({*cpu, line_end, text.size()});
    }
    if (nl == string_view::npos) break;
    line_start = nl + 1;
  }
  if (blocks.empty()) {
    if (absl::StripAsciiWhitespace(text).empty()) {
      return absl::InvalidArgumentError("info registers: empty reply");
    }
    blocks.push_back({0, 0, text.size()});
  }
  std::vector<VcpuRegisters> out;
  out.reserve(blocks.size());
  std::optional<bool> first_x86;  // one guest has one architecture
  for (const Block& b : blocks) {
    const string_view block = text.substr(b.begin, b.end - b.begin);
    const bool x86 = IsX86Block(block);
    if (first_x86 && *first_x86 != x86) {
      return absl::InvalidArgumentError(
          absl::StrCat("info registers: CPU#", b.cpu, " is ", x86 ? "x86" : "Arm", " but CPU#",
                       blocks.front().cpu, " is ", x86 ? "Arm" : "x86"));
    }
    first_x86 = x86;
    absl::StatusOr<VcpuRegisters> regs =
        x86 ? ParseX86Block(b.cpu, block) : ParseArmRegisterBlock(b.cpu, block);
    if (!regs.ok()) return regs.status();
    out.push_back(*std::move(regs));
  }
  return out;
}

}  // namespace kfreeze::dump

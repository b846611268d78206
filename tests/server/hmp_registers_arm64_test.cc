// `info registers -a` on arm64 guests: real QEMU 7.2 text (tests/server/testdata/hmp_registers,
// captured over QMP from qemu-system-aarch64 -M virt -cpu max booting a Debian 6.12 kernel whose
// init spins in user space), the newer QEMU PSTATE spelling, and hostile or partial text.
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/dump/hmp_registers.h"
#include "core/dump/hmp_registers_arm64.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfreeze::dump {
namespace {

using ::testing::HasSubstr;

std::string Testdata(const std::string& name) {
  std::ifstream in(std::string(KFREEZE_SOURCE_DIR) + "/tests/server/testdata/hmp_registers/" + name,
                   std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Message(absl::string_view text) {
  return std::string(ParseHmpRegisters(text).status().message());
}

// One AArch64 block in QEMU's layout, every X register n set to 0x100 + n.
std::string Block(uint32_t cpu, absl::string_view pc, absl::string_view sp,
                  absl::string_view pstate_line) {
  std::string out = absl::StrCat("CPU#", cpu, "\r\n PC=", pc, " ");
  for (int i = 0; i < 31; ++i) {
    absl::StrAppend(&out, "X", i < 10 ? "0" : "", i, "=", absl::Hex(0x100 + i, absl::kZeroPad16),
                    (i + 2) % 3 ? " " : "\r\n");
  }
  absl::StrAppend(&out, " SP=", sp, "\r\n", pstate_line, "\r\n");
  return out;
}

TEST(HmpRegistersArm64, RealKernelAndUserVcpus) {
  const std::string text = Testdata("aarch64-el1h-el0t-2cpu.txt");
  ASSERT_FALSE(text.empty());
  auto regs = ParseHmpRegisters(text);
  ASSERT_TRUE(regs.ok()) << regs.status();
  ASSERT_EQ(regs->size(), 2u);

  const VcpuRegisters& k = (*regs)[0];  // idle in the kernel: EL1h, on SP_EL1
  EXPECT_EQ(k.cpu_index, 0u);
  EXPECT_EQ(k.pc, 0xffff92cee2ddabc8ull);
  EXPECT_EQ(k.sp, 0xffff92cee3ac3d80ull);
  EXPECT_TRUE(k.kernel_mode);
  EXPECT_FALSE(k.page_table_root.has_value());  // QEMU prints no TTBR
  EXPECT_FALSE(k.x86.has_value());
  ASSERT_TRUE(k.arm64.has_value());
  EXPECT_EQ(k.arm64->x[0], 0xa32a4u);
  EXPECT_EQ(k.arm64->x[1], 0xfff000001fdc3550ull);
  EXPECT_EQ(k.arm64->x[17], 0xffff8000800b3be0ull);
  EXPECT_EQ(k.arm64->x[29], 0xffff92cee3ac3d80ull);  // frame pointer
  EXPECT_EQ(k.arm64->x[30], 0xffff92cee2ddabe0ull);  // link register
  EXPECT_EQ(k.arm64->pc, k.pc);
  EXPECT_EQ(k.arm64->sp, k.sp);
  EXPECT_EQ(k.arm64->pstate, 0x414000c5u);
  EXPECT_EQ(k.arm64->el, 1);
  EXPECT_TRUE(k.arm64->sp_sel);

  const VcpuRegisters& u = (*regs)[1];  // the spinning init: EL0t
  EXPECT_EQ(u.cpu_index, 1u);
  EXPECT_EQ(u.pc, 0x4006dcu);
  EXPECT_EQ(u.sp, 0xffffec6b8290ull);
  EXPECT_FALSE(u.kernel_mode);
  ASSERT_TRUE(u.arm64.has_value());
  EXPECT_EQ(u.arm64->pstate, 0x60001000u);
  EXPECT_EQ(u.arm64->el, 0);
  EXPECT_FALSE(u.arm64->sp_sel);
  EXPECT_EQ(u.arm64->x[29], 0xffffec6b82a0ull);
  EXPECT_EQ(u.arm64->x[30], 0x400798u);
}

TEST(HmpRegistersArm64, RealThreeVcpus) {
  auto regs = ParseHmpRegisters(Testdata("aarch64-3cpu.txt"));
  ASSERT_TRUE(regs.ok()) << regs.status();
  ASSERT_EQ(regs->size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*regs)[i].cpu_index, i);
    ASSERT_TRUE((*regs)[i].arm64.has_value());
  }
  EXPECT_TRUE((*regs)[0].kernel_mode);
  EXPECT_TRUE((*regs)[1].kernel_mode);
  EXPECT_EQ((*regs)[1].sp, 0xffff800080103df0ull);
  EXPECT_EQ((*regs)[1].arm64->x[29], 0xffff800080103df0ull);
  EXPECT_FALSE((*regs)[2].kernel_mode);
  EXPECT_EQ((*regs)[2].pc, 0x4006dcu);
  EXPECT_EQ((*regs)[2].sp, 0xffffc1809ee0ull);
}

TEST(HmpRegistersArm64, RealSveAndSmeLinesAreIgnored) {
  // sve=on, sme=on: SVCR on the PSTATE line, then P00.., FFR, Z00[3-2]= lines per vCPU.
  auto regs = ParseHmpRegisters(Testdata("aarch64-sve-sme-el0t-el1h-2cpu.txt"));
  ASSERT_TRUE(regs.ok()) << regs.status();
  ASSERT_EQ(regs->size(), 2u);
  EXPECT_FALSE((*regs)[0].kernel_mode);
  EXPECT_EQ((*regs)[0].pc, 0x4006dcu);
  EXPECT_EQ((*regs)[0].sp, 0xffffdfcbd770ull);
  ASSERT_TRUE((*regs)[1].arm64.has_value());
  EXPECT_TRUE((*regs)[1].kernel_mode);
  EXPECT_EQ((*regs)[1].pc, 0xffff9b48879dabc8ull);
  EXPECT_EQ((*regs)[1].arm64->x[30], 0xffff9b48879dabe0ull);
  EXPECT_EQ((*regs)[1].arm64->pstate, 0x414000c5u);
}

TEST(HmpRegistersArm64, RealResetStateWithFpuDisabled) {
  // -S without a kernel: every register 0, PSTATE=400003c5 (EL1h, DAIF masked), "FPU disabled".
  auto regs = ParseHmpRegisters(Testdata("aarch64-reset-2cpu.txt"));
  ASSERT_TRUE(regs.ok()) << regs.status();
  ASSERT_EQ(regs->size(), 2u);
  ASSERT_TRUE((*regs)[1].arm64.has_value());
  EXPECT_EQ((*regs)[1].arm64->el, 1);
  EXPECT_EQ((*regs)[1].pc, 0u);
}

TEST(HmpRegistersArm64, RealCompatTaskAtEl0IsAarch32Text) {
  // A 32-bit task on vCPU 0: QEMU prints R00..R15 and PSR instead of the AArch64 layout.
  auto regs = ParseHmpRegisters(Testdata("aarch64-compat-el0-2cpu.txt"));
  ASSERT_TRUE(regs.ok()) << regs.status();
  ASSERT_EQ(regs->size(), 2u);
  const VcpuRegisters& c = (*regs)[0];
  EXPECT_EQ(c.pc, 0x20128u);          // R15
  EXPECT_EQ(c.sp, 0xff934c7cu);       // R13
  EXPECT_FALSE(c.kernel_mode);        // PSR=00800010: usr32
  EXPECT_FALSE(c.arm64.has_value());  // x15..x30 are not shown
  EXPECT_FALSE(c.x86.has_value());
  ASSERT_TRUE((*regs)[1].arm64.has_value());
  EXPECT_TRUE((*regs)[1].kernel_mode);
}

TEST(HmpRegistersArm64, DesignDocSample) {
  // docs/design/arm64.md section 3 (QEMU 7.2, sve=on): values from there, the middle rows filled.
  const std::string text = Block(0, "ffff940e5be992a4", "ffff80008002ba50",
                                 "PSTATE=61400005 -ZC- EL1h  SVCR=00000000 --  BTYPE=0     "
                                 "FPCR=00000000 FPSR=00000000");
  auto regs = ParseHmpRegisters(text);
  ASSERT_TRUE(regs.ok()) << regs.status();
  ASSERT_EQ(regs->size(), 1u);
  const VcpuRegisters& r = (*regs)[0];
  EXPECT_EQ(r.pc, 0xffff940e5be992a4ull);
  EXPECT_EQ(r.sp, 0xffff80008002ba50ull);
  EXPECT_TRUE(r.kernel_mode);
  ASSERT_TRUE(r.arm64.has_value());
  EXPECT_EQ(r.arm64->el, 1);
  EXPECT_TRUE(r.arm64->sp_sel);
  EXPECT_EQ(r.arm64->x[28], 0x100u + 28);
  EXPECT_EQ(r.arm64->x[30], 0x100u + 30);
}

TEST(HmpRegistersArm64, NewerQemuPstateSpelling) {
  // 16 digits, a security state and the NV flags after the EL.
  auto regs = ParseHmpRegisters(
      Block(0, "ffff800080001000", "ffff800080003f00",
            "PSTATE=00000000000003c9 ---- NS EL2h  BTYPE=0 NV NV1 NV2     FPU disabled"));
  ASSERT_TRUE(regs.ok()) << regs.status();
  ASSERT_TRUE((*regs)[0].arm64.has_value());
  EXPECT_EQ((*regs)[0].arm64->el, 2);  // a VHE kernel
  EXPECT_TRUE((*regs)[0].kernel_mode);
  EXPECT_EQ((*regs)[0].arm64->pstate, 0x3c9u);
}

TEST(HmpRegistersArm64, El1tRunsTheKernelOnSpEl0) {
  auto regs =
      ParseHmpRegisters(Block(0, "ffff800080001000", "ffff800080003f00", "PSTATE=600003c4 EL1t"));
  ASSERT_TRUE(regs.ok()) << regs.status();
  EXPECT_TRUE((*regs)[0].kernel_mode);
  EXPECT_EQ((*regs)[0].arm64->el, 1);
  EXPECT_FALSE((*regs)[0].arm64->sp_sel);
}

TEST(HmpRegistersArm64, MissingBasicsNameTheVcpuAndRegister) {
  const std::string ok = Block(3, "1000", "2000", "PSTATE=3c5 EL1h");
  EXPECT_THAT(Message(absl::StrReplaceAll(ok, {{"PSTATE=", "PSTATEX="}})),
              HasSubstr("CPU#3 lacks PSTATE"));
  EXPECT_THAT(Message(absl::StrReplaceAll(ok, {{" SP=", " XSP="}})), HasSubstr("CPU#3 lacks SP"));
  EXPECT_THAT(Message(absl::StrReplaceAll(ok, {{" PC=", " XPC="}})), HasSubstr("CPU#3 lacks PC"));
  // A value that is not hex, or longer than 64 bits, is unreadable rather than cut.
  EXPECT_THAT(Message(absl::StrReplaceAll(ok, {{" SP=2000", " SP=20zz"}})),
              HasSubstr("CPU#3 lacks SP"));
  EXPECT_THAT(Message(absl::StrReplaceAll(ok, {{" PC=1000", " PC=10000000000000000"}})),
              HasSubstr("CPU#3 lacks PC"));
  EXPECT_THAT(Message("CPU#0\r\nPSR=00000010 usr32\r\nR13=1\r\n"), HasSubstr("CPU#0 lacks R15"));
}

TEST(HmpRegistersArm64, AMissingXRegisterLeavesOnlyTheBasics) {
  const std::string text =
      absl::StrReplaceAll(Block(0, "1000", "2000", "PSTATE=3c5 EL1h"), {{"X17=", "X17:"}});
  auto regs = ParseHmpRegisters(text);
  ASSERT_TRUE(regs.ok()) << regs.status();
  EXPECT_FALSE((*regs)[0].arm64.has_value());
  EXPECT_EQ((*regs)[0].pc, 0x1000u);
  EXPECT_EQ((*regs)[0].sp, 0x2000u);
  EXPECT_TRUE((*regs)[0].kernel_mode);
}

TEST(HmpRegistersArm64, FirstOccurrenceWins) {
  auto regs = ParseHmpRegisters(
      absl::StrCat(Block(0, "1000", "2000", "PSTATE=3c5 EL1h"), "PC=dead SP=beef PSTATE=0\r\n"));
  ASSERT_TRUE(regs.ok()) << regs.status();
  EXPECT_EQ((*regs)[0].pc, 0x1000u);
  EXPECT_EQ((*regs)[0].sp, 0x2000u);
  EXPECT_TRUE((*regs)[0].kernel_mode);
}

TEST(HmpRegistersArm64, MixingX86AndArmIsRefused) {
  const std::string text =
      absl::StrCat("CPU#0\nRIP=1 RSP=2 CR3=3\n", Block(1, "1000", "2000", "PSTATE=3c5 EL1h"));
  EXPECT_THAT(Message(text), HasSubstr("CPU#1 is Arm but CPU#0 is x86"));
}

TEST(HmpRegistersArm64, VcpuCountIsCapped) {
  std::string text;
  for (size_t i = 0; i <= kMaxHmpVcpus; ++i) {
    absl::StrAppend(&text, "CPU#", i, "\n PC=1 SP=2\nPSTATE=3c5 EL1h\n");
  }
  EXPECT_THAT(Message(text), HasSubstr("more than"));
}

TEST(HmpRegistersArm64, EveryTruncationOfRealTextParsesOrFailsCleanly) {
  const std::string text = Testdata("aarch64-el1h-el0t-2cpu.txt");
  ASSERT_FALSE(text.empty());
  size_t ok = 0;
  for (size_t n = 0; n <= text.size(); ++n) {
    auto regs = ParseHmpRegisters(absl::string_view(text).substr(0, n));
    if (regs.ok()) {
      ++ok;
      for (const VcpuRegisters& r : *regs) EXPECT_LE(r.cpu_index, 1u);
    } else {
      EXPECT_EQ(regs.status().code(), absl::StatusCode::kInvalidArgument) << n;
    }
  }
  EXPECT_GT(ok, 0u);  // every cut after CPU#1's PSTATE value
}

TEST(HmpRegistersArm64, MutatedRealTextNeverCrashes) {
  const std::string text = Testdata("aarch64-sve-sme-el0t-el1h-2cpu.txt");
  ASSERT_FALSE(text.empty());
  uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  const char alphabet[] = "=# \r\n\tPCSXR0123456789abcdefxyz\xff";
  for (int round = 0; round < 2000; ++round) {
    std::string mutated = text;
    for (int i = 0; i < 8; ++i) {
      mutated[next() % mutated.size()] = alphabet[next() % (sizeof(alphabet) - 1)];
    }
    auto regs = ParseHmpRegisters(mutated);
    if (!regs.ok()) {
      EXPECT_EQ(regs.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(HmpRegistersArm64, HugeBlockIsParsedInOnePass) {
  // Megabytes of tokens before the registers: read, not refused, and quickly (one pass).
  std::string text = "CPU#0\n";
  for (int i = 0; i < 200000; ++i) absl::StrAppend(&text, "Z", i, "=0 ");
  absl::StrAppend(&text, "\n PC=1 SP=2\nPSTATE=3c5 EL1h\n");
  auto regs = ParseHmpRegisters(text);
  ASSERT_TRUE(regs.ok()) << regs.status();
  EXPECT_EQ((*regs)[0].pc, 1u);
  // Beyond the text cap it is not register output at all.
  EXPECT_THAT(Message(std::string(kMaxHmpRegisterText + 1, ' ')), HasSubstr("not register output"));
}

TEST(HmpRegistersArm64, ArmBlocksAreRecognisedByTheirRegisterNames) {
  EXPECT_TRUE(IsArmRegisterBlock(" PC=0 X00=0"));
  EXPECT_TRUE(IsArmRegisterBlock("PSTATE=0"));
  EXPECT_TRUE(IsArmRegisterBlock("PSR=00000010 ---- A usr32"));
  EXPECT_FALSE(IsArmRegisterBlock("RIP=1 RSP=2 CR3=3 XPC=1 PSTATEX=2"));
  EXPECT_FALSE(IsArmRegisterBlock(""));
}

}  // namespace
}  // namespace kfreeze::dump

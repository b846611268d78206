// `info registers -a` parsing: the QEMU 7.2 x86-64 layout, and hostile or partial text.
#include "core/dump/hmp_registers.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfreeze::dump {
namespace {

using ::testing::HasSubstr;

// Shape of QEMU 7.2's x86_cpu_dump_state output (two vCPUs, trimmed segment/FPU lines).
constexpr char kTwoCpus[] =
    "CPU#0\n"
    "RAX=0000000000000000 RBX=0000000000000000 RCX=0000000000000001 RDX=0000000000000000\n"
    "RSI=0000000000000000 RDI=0000000000000000 RBP=0000000000000000 RSP=ffffffffa6e03e98\n"
    "R8 =0000000000000000 R9 =0000000000000000 R10=0000000000000000 R11=0000000000000000\n"
    "RIP=ffffffffa5f0a3ab RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=1\n"
    "CS =0010 0000000000000000 ffffffff 00a09b00 DPL=0 CS64 [-RA]\n"
    "GDT=     fffffe0000001000 0000007f\n"
    "CR0=80050033 CR2=00007f5a1c2e3000 CR3=000000000b23e000 CR4=00350ef0\n"
    "DR6=00000000ffff0ff0 DR7=0000000000000400\n"
    "EFER=0000000000000d01\n"
    "CPU#1\n"
    "RAX=0000000000000000 RBX=ffff8c5cc1a5c000 RCX=0000000000000001 RDX=0000000000000000\n"
    "RSI=0000000000000000 RDI=0000000000000000 RBP=0000000000000001 RSP=ffffb6c1c0093ea0\n"
    "RIP=ffffffffa5f0a3ab RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=1\n"
    "CR0=80050033 CR2=0000000000000000 CR3=800000000c4d6005 CR4=00350ef0\n";

TEST(HmpRegisters, ParsesEveryVcpu) {
  auto regs = ParseHmpRegisters(kTwoCpus);
  ASSERT_TRUE(regs.ok()) << regs.status();
  ASSERT_EQ(regs->size(), 2u);
  EXPECT_EQ((*regs)[0].cpu_index, 0u);
  EXPECT_EQ((*regs)[0].pc, 0xffffffffa5f0a3abull);
  EXPECT_EQ((*regs)[0].sp, 0xffffffffa6e03e98ull);
  EXPECT_EQ((*regs)[0].page_table_root, 0xb23e000ull);
  EXPECT_EQ((*regs)[1].cpu_index, 1u);
  EXPECT_EQ((*regs)[1].sp, 0xffffb6c1c0093ea0ull);
  // Raw CR3: PCID and the no-flush bit are kept for the consumer to mask.
  EXPECT_EQ((*regs)[1].page_table_root, 0x800000000c4d6005ull);
}

TEST(HmpRegisters, TextWithoutHeaderIsVcpuZero) {
  std::string text = std::string(kTwoCpus).substr(6, 600);  // drop "CPU#0\n", keep CPU 0 body
  text = text.substr(0, text.find("CPU#1"));
  auto regs = ParseHmpRegisters(text);
  ASSERT_TRUE(regs.ok()) << regs.status();
  ASSERT_EQ(regs->size(), 1u);
  EXPECT_EQ((*regs)[0].cpu_index, 0u);
  EXPECT_EQ((*regs)[0].page_table_root, 0xb23e000ull);
}

TEST(HmpRegisters, MissingRegisterNamesTheVcpu) {
  auto regs = ParseHmpRegisters("CPU#0\nRIP=ffffffff81000000 RSP=ffff0000\nCPU#3\nRIP=1 RSP=2\n");
  ASSERT_FALSE(regs.ok());
  EXPECT_THAT(std::string(regs.status().message()), HasSubstr("CPU#0 lacks CR3"));
}

TEST(HmpRegisters, RegisterNameInsideAnotherTokenDoesNotMatch) {
  // "XCR3=" must not be read as CR3.
  auto regs = ParseHmpRegisters("CPU#0\nRIP=10 RSP=20 XCR3=ff\n");
  ASSERT_FALSE(regs.ok());
  EXPECT_THAT(std::string(regs.status().message()), HasSubstr("CPU#0 lacks CR3"));
}

TEST(HmpRegisters, RejectsEmptyAndErrorReplies) {
  auto message = [](absl::string_view text) {
    return std::string(ParseHmpRegisters(text).status().message());
  };
  EXPECT_THAT(message(""), HasSubstr("empty reply"));
  EXPECT_THAT(message("  \r\n"), HasSubstr("empty reply"));
  // An HMP error is text without registers, not an empty reply.
  EXPECT_THAT(message("unknown command: 'info registers -a'\r\n"), HasSubstr("CPU#0 lacks RIP"));
}

TEST(HmpRegisters, OverlongHexIsRejected) {
  // 17 hex digits do not fit 64 bits: the register is unreadable, not truncated.
  EXPECT_THAT(
      std::string(ParseHmpRegisters("RIP=123456789abcdef01 RSP=1 CR3=1\n").status().message()),
      HasSubstr("CPU#0 lacks RIP"));
}

TEST(HmpRegisters, VcpuCountIsCapped) {
  std::string text;
  for (size_t i = 0; i <= kMaxHmpVcpus; ++i)
    absl::StrAppend(&text, "CPU#", i, "\nRIP=1 RSP=2 CR3=3\n");
  auto regs = ParseHmpRegisters(text);
  ASSERT_FALSE(regs.ok());
  EXPECT_THAT(std::string(regs.status().message()), HasSubstr("more than"));
}

TEST(HmpRegisters, HandlesCrLfLineEndings) {
  auto regs = ParseHmpRegisters("CPU#0\r\nRIP=a RSP=b\r\nCR3=c\r\nCPU#1\r\nRIP=1 RSP=2 CR3=3\r\n");
  ASSERT_TRUE(regs.ok()) << regs.status();
  ASSERT_EQ(regs->size(), 2u);
  EXPECT_EQ((*regs)[0].page_table_root, 0xcu);
  EXPECT_EQ((*regs)[1].cpu_index, 1u);
}

// A complete QEMU 7.2 block: every register the unwinder and a reader need.
constexpr char kFullCpu[] =
    "CPU#0\n"
    "RAX=0000000000000001 RBX=0000000000000002 RCX=0000000000000003 RDX=0000000000000004\n"
    "RSI=0000000000000005 RDI=0000000000000006 RBP=ffffc90000013e70 RSP=ffffc90000013e40\n"
    "R8 =0000000000000008 R9 =0000000000000009 R10=000000000000000a R11=000000000000000b\n"
    "R12=000000000000000c R13=000000000000000d R14=000000000000000e R15=000000000000000f\n"
    "RIP=ffffffff81e5d6bf RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=0\n"
    "ES =0000 0000000000000000 ffffffff 00c00000\n"
    "CS =0010 0000000000000000 ffffffff 00a09b00 DPL=0 CS64 [-RA]\n"
    "SS =0018 0000000000000000 ffffffff 00c09300 DPL=0 DS   [-WA]\n"
    "FS =0000 00007f0a12345740 ffffffff 00c00000\n"
    "GS =0000 ffff88803ec00000 ffffffff 00c00000\n"
    "CR0=80050033 CR2=00007f5a1c2e3000 CR3=000000000b23e000 CR4=00350ef0\n"
    "EFER=0000000000000d01\n";

TEST(HmpRegisters, ParsesTheFullRegisterFile) {
  auto regs = ParseHmpRegisters(kFullCpu);
  ASSERT_TRUE(regs.ok()) << regs.status();
  ASSERT_EQ(regs->size(), 1u);
  ASSERT_TRUE((*regs)[0].x86.has_value());
  const X86RegisterFile& f = *(*regs)[0].x86;
  EXPECT_EQ(f.rax, 1u);
  EXPECT_EQ(f.rdx, 4u);
  EXPECT_EQ(f.rdi, 6u);
  EXPECT_EQ(f.rbp, 0xffffc90000013e70ull);
  EXPECT_EQ(f.r8, 8u);
  EXPECT_EQ(f.r10, 0xau);
  EXPECT_EQ(f.r13, 0xdu);
  EXPECT_EQ(f.r15, 0xfu);
  EXPECT_EQ(f.rflags, 0x246u);
  EXPECT_EQ(f.cs, 0x10);
  EXPECT_EQ(f.ss, 0x18);
  EXPECT_EQ(f.fs_base, 0x7f0a12345740ull);
  EXPECT_EQ(f.gs_base, 0xffff88803ec00000ull);
  EXPECT_EQ(f.cr2, 0x7f5a1c2e3000ull);
  EXPECT_EQ(f.cr4, 0x350ef0u);
  EXPECT_EQ(f.efer, 0xd01u);
  EXPECT_TRUE((*regs)[0].kernel_mode);  // CS & 3 == 0
  EXPECT_FALSE((*regs)[0].arm64.has_value());
}

TEST(HmpRegisters, UserModeIsNotKernelMode) {
  std::string text(kFullCpu);
  text.replace(text.find("CS =0010"), 8, "CS =0033");
  auto regs = ParseHmpRegisters(text);
  ASSERT_TRUE(regs.ok()) << regs.status();
  ASSERT_TRUE((*regs)[0].x86.has_value());
  EXPECT_FALSE((*regs)[0].kernel_mode);
}

TEST(HmpRegisters, AMissingGeneralRegisterLeavesOnlyTheBasics) {
  // kTwoCpus lacks R12-R15: RIP/RSP/CR3 are still there, the full file is not.
  auto regs = ParseHmpRegisters(kTwoCpus);
  ASSERT_TRUE(regs.ok()) << regs.status();
  EXPECT_FALSE((*regs)[0].x86.has_value());
  EXPECT_FALSE((*regs)[0].kernel_mode);  // no register file to tell by
  EXPECT_EQ((*regs)[0].pc, 0xffffffffa5f0a3abull);
}

}  // namespace
}  // namespace kfreeze::dump

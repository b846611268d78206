// libFuzzer over the ORC unwinder (core/unwind) with every input guest-chosen: ORC tables laid
// into a synthetic guest (entries, ips, counts, table and text addresses, absurd ones included)
// and loaded with OrcTables::Load, stack bytes at chosen addresses, the start registers, the
// inactive_task_frame layout and which ips count as generated code; then Unwind and
// UnwindSleeping. Also DetectOrcLayout/DecodeOrcEntry over the input's raw bytes.
// Invariants (abort on violation): frames <= max_frames; an unbounded unwind still ends (a step
// counter aborts past kRunaway frames); a clean end (empty stop_reason) only where the last frame's
// ORC rule ends the stack (END_OF_STACK, a user-mode pt_regs/iret frame) or a user-mode start;
// the first frame is the start; within one captured range the frames' sp only grows; unwinding is
// deterministic. Per input: within kInputWall and less than kRssBound of peak RSS growth.
//
// Input: a stream read from the front (missing bytes read as zero), see Input below.
// UNWIND_FUZZ_VERBOSE=1 prints each load failure and unwind (for reading a reproducer).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "core/unwind/orc_entry.h"
#include "core/unwind/orc_table.h"
#include "core/unwind/stack_memory.h"
#include "core/unwind/unwinder.h"
#include "tests/fuzz/guest_patches.h"
#include "tests/walkers/support/fake_guest.h"

namespace kfreeze::fuzz {
namespace {

using namespace std::chrono_literals;

constexpr auto kInputWall = 5s;
constexpr uint64_t kRssBound = 512ull << 20;
// Where the synthetic text and stacks are: numbers only (text within s32 reach of the tables).
constexpr uint64_t kText = testing::kFakeDirectMapBase + (64ull << 20);
constexpr uint64_t kStack = 0xffffc90000010000ull;
constexpr size_t kMaxSections = 4;
constexpr size_t kMaxRows = 64;
constexpr size_t kRegionBytes = kMaxRows * (4 + kOrcEntryBytes);
// An unwind with no frame cap that runs this long is taken for one that would never end.
constexpr size_t kRunaway = 1'000'000;

#define FUZZ_CHECK(cond)                                                                      \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "unwind_fuzz: invariant failed: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)

void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "unwind_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

// Reads little-endian numbers from the front; past the end everything is zero.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t U8() { return at_ < size_ ? data_[at_++] : 0; }
  uint16_t U16() { return static_cast<uint16_t>(U8() | (U8() << 8)); }
  uint32_t U32() { return U16() | (static_cast<uint32_t>(U16()) << 16); }
  uint64_t U64() { return U32() | (static_cast<uint64_t>(U32()) << 32); }
  // A value the unwinder cares about, cheaply aimed: tag 0 raw u64, 1 text + u16, 2 stack + u16,
  // 3 a small number (user-mode CS values, zero).
  uint64_t Value() {
    switch (U8() & 3) {
      case 0:
        return U64();
      case 1:
        return kText + U16();
      case 2:
        return kStack + U16();
      default:
        return U8();
    }
  }
  std::span<const uint8_t> Rest() {
    std::span<const uint8_t> r(data_ + at_, size_ - at_);
    at_ = size_;
    return r;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

// A CALL sp+8 rule under each layout: the default row, so small inputs load a detectable table.
RawOrcEntry CallSp8(OrcLayout layout) {
  const uint16_t bits = layout == OrcLayout::kV7_1   ? (3 | (2 << 8))
                        : layout == OrcLayout::kV6_4 ? (5 | (2 << 8))
                                                     : 5;
  return {8, 0, 0, 0, static_cast<uint8_t>(bits), static_cast<uint8_t>(bits >> 8)};
}

struct World {
  World() : guest(1ull << 20) {
    for (size_t i = 0; i < kMaxSections; ++i) regions.push_back(guest.Alloc(kRegionBytes, 64));
  }
  testing::FakeGuest guest;
  std::vector<Kva> regions;
};

// One section: a table written into its region (count 8..71, overridable rows), or in "absurd"
// mode numbers straight from the input.
OrcSectionRef ReadSectionRef(Input& in, World& w, size_t index, OrcLayout layout) {
  OrcSectionRef ref;
  const uint8_t mode = in.U8();
  if (mode & 1) ref.module = "mod" + std::to_string(index);
  if (mode & 0x80) {
    ref.count = in.U64();
    ref.ip_table_kva = (mode & 2) ? in.U64() : w.regions[index].value + in.U16();
    ref.orc_table_kva = (mode & 4) ? in.U64() : w.regions[index].value + in.U16();
    ref.text_begin = in.Value();
    ref.text_end = (mode & 8) ? in.Value() : ref.text_begin + in.U32();
    return ref;
  }
  const size_t rows = std::min<size_t>(8 + (in.U8() % (kMaxRows - 7)), kMaxRows);
  const uint64_t text = kText + (uint64_t{index} << 20) + (in.U8() << 4);
  std::vector<uint64_t> ips(rows);
  std::vector<RawOrcEntry> raw(rows, CallSp8(layout));
  for (size_t i = 0; i < rows; ++i) ips[i] = text + 16 * i;
  for (size_t n = in.U8() % 32; n-- > 0;) {
    const uint8_t op = in.U8();
    const size_t row = in.U8() % rows;
    if (op & 1) {
      for (uint8_t& b : raw[row]) b = in.U8();
    }
    if (op & 2) ips[row] = text + in.U16();
    if (op & 4) ips[row] = in.Value();
  }
  const uint64_t ip_table = w.regions[index].value, orc_table = ip_table + 4 * rows;
  for (size_t i = 0; i < rows; ++i) {
    const uint64_t place = ip_table + 4 * i;
    w.guest.Put<int32_t>(Kva(place), static_cast<int32_t>(ips[i] - place));
    w.guest.Write(Kva(orc_table + kOrcEntryBytes * i), raw[i]);
  }
  ref.ip_table_kva = ip_table;
  ref.orc_table_kva = orc_table;
  ref.count = (mode & 0x40) ? rows + (in.U8() % 4) : rows;  // a count past the written rows
  ref.text_begin = text - ((mode & 0x20) ? in.U16() : 0);
  ref.text_end = text + 16 * rows + ((mode & 0x10) ? in.U16() : 0);
  return ref;
}

// The stack at `start`: one tagged value per word (see Input::Value).
std::vector<uint8_t> ReadStackBytes(Input& in) {
  const size_t words = in.U8() % 129;
  std::vector<uint8_t> bytes(words * 8);
  for (size_t i = 0; i < words; ++i) {
    const uint64_t v = in.Value();
    std::memcpy(bytes.data() + 8 * i, &v, 8);
  }
  // An odd tail, so ranges need not be word-sized.
  bytes.resize(bytes.size() + (in.U8() % 8));
  return bytes;
}

std::optional<uint64_t> MaybeValue(Input& in, bool present) {
  const uint64_t v = in.Value();
  return present ? std::optional<uint64_t>(v) : std::nullopt;
}

// True where an ORC rule of the tables ends the stack cleanly at pc (as-is or as a return).
bool RuleMayEnd(const OrcTables& tables, uint64_t pc) {
  for (uint64_t ip : {pc, pc - 1}) {
    std::optional<OrcLookup> at = tables.Find(ip);
    if (!at) continue;
    const OrcType t = at->entry.type;
    if (t == OrcType::kEndOfStack || t == OrcType::kRegs || t == OrcType::kRegsPartial) {
      return true;
    }
  }
  return false;
}

std::string Describe(const UnwindResult& r) {
  std::string s = "frames:";
  for (const UnwindFrame& f : r.frames) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), " %llx@%llx/%d", static_cast<unsigned long long>(f.pc),
                  static_cast<unsigned long long>(f.sp), static_cast<int>(f.via));
    s += buf;
  }
  return s + " stop: '" + r.stop_reason + "'";
}

void CheckResult(const UnwindResult& r, const OrcTables& tables, const StackMemory& stack,
                 size_t max_frames, std::optional<uint64_t> first_ip, bool user_start) {
  if (r.frames.size() > max_frames) Fail("more frames than max_frames", Describe(r));
  if (r.stop_reason.size() > 512) Fail("stop reason too long", r.stop_reason);
  if (user_start) {
    if (!r.frames.empty() || !r.stop_reason.empty()) Fail("user-mode start unwound", Describe(r));
    return;
  }
  if (r.frames.empty()) {
    if (r.stop_reason.empty()) Fail("no frames and no reason", Describe(r));
    return;
  }
  if (first_ip && r.frames[0].pc != *first_ip) Fail("first frame is not the start", Describe(r));
  if (r.frames[0].via != FrameVia::kRegs) Fail("first frame not via regs", Describe(r));
  std::map<std::optional<uint64_t>, uint64_t> highest;
  for (size_t i = 0; i < r.frames.size(); ++i) {
    const UnwindFrame& f = r.frames[i];
    if (f.pc == 0) Fail("zero pc in a frame", Describe(r));
    if (i > 0 && f.via == FrameVia::kRegs) Fail("later frame via regs", Describe(r));
    const std::optional<uint64_t> range = stack.RangeStart(f.sp, 8);
    auto it = highest.find(range);
    if (it != highest.end() && f.sp <= it->second) Fail("sp went down in a range", Describe(r));
    highest[range] = f.sp;
  }
  if (r.stop_reason.empty() && !RuleMayEnd(tables, r.frames.back().pc)) {
    Fail("clean end without an ending rule", Describe(r));
  }
}

// Runs `unwind` with the input's cap and again with none (the runaway counter aborts instead),
// checking both and that a repeat gives the same frames.
template <typename F>
void RunBoth(F unwind, const OrcTables& tables, const StackMemory& stack, size_t max_frames,
             std::optional<uint64_t> first_ip, bool user_start) {
  UnwindLimits capped;
  capped.max_frames = max_frames;
  const UnwindResult a = unwind(capped);
  if (std::getenv("UNWIND_FUZZ_VERBOSE") != nullptr)
    std::fprintf(stderr, "%s\n", Describe(a).c_str());
  CheckResult(a, tables, stack, max_frames, first_ip, user_start);
  const UnwindResult again = unwind(capped);
  if (Describe(a) != Describe(again))
    Fail("not deterministic", Describe(a) + " vs " + Describe(again));

  size_t steps = 0;
  UnwindLimits unbounded;
  unbounded.max_frames = std::numeric_limits<size_t>::max();
  unbounded.expired = [&steps] {
    if (++steps > kRunaway) Fail("runaway unwind", "more than kRunaway frames");
    return false;
  };
  const UnwindResult b = unwind(unbounded);
  CheckResult(b, tables, stack, unbounded.max_frames, first_ip, user_start);
  // The capped run is a prefix of the uncapped one.
  for (size_t i = 0; i < a.frames.size(); ++i) {
    if (i >= b.frames.size() || a.frames[i].pc != b.frames[i].pc ||
        a.frames[i].sp != b.frames[i].sp) {
      Fail("capped run is not a prefix", Describe(a) + " vs " + Describe(b));
    }
  }
  // An expired deadline stops at the first frame with a reason.
  UnwindLimits expired;
  expired.expired = [] { return true; };
  const UnwindResult c = unwind(expired);
  if (c.frames.size() > 1) Fail("expired deadline kept unwinding", Describe(c));
  if (!user_start && c.stop_reason.empty()) Fail("expired deadline ended cleanly", Describe(c));
}

void FuzzRawEntries(std::span<const uint8_t> bytes) {
  std::vector<RawOrcEntry> raw(std::min<size_t>(bytes.size() / kOrcEntryBytes, 4096));
  for (size_t i = 0; i < raw.size(); ++i) {
    std::memcpy(raw[i].data(), bytes.data() + i * kOrcEntryBytes, kOrcEntryBytes);
  }
  for (OrcLayout layout : {OrcLayout::kPre6_4, OrcLayout::kV6_4, OrcLayout::kV7_1}) {
    FUZZ_CHECK(!OrcLayoutName(layout).empty());
    const OrcLayoutScore s = ScoreOrcLayout(raw, layout);
    FUZZ_CHECK(s.entries == raw.size() && s.plausible + s.invalid <= s.entries);
    for (const RawOrcEntry& r : raw) {
      const OrcEntry e = DecodeOrcEntry(r, layout);
      FUZZ_CHECK(e.sp_reg <= OrcReg::kUnknown && e.bp_reg <= OrcReg::kUnknown);
      FUZZ_CHECK(e.type <= OrcType::kUnknown);
      FUZZ_CHECK(!OrcRegName(e.sp_reg).empty() && !OrcTypeName(e.type).empty());
      FUZZ_CHECK(layout != OrcLayout::kV6_4 || e.sp_reg != OrcReg::kAx);
    }
  }
  absl::StatusOr<OrcLayout> detected = DetectOrcLayout(raw);
  if (detected.ok()) {
    FUZZ_CHECK(raw.size() >= 8);
    const OrcLayoutScore s = ScoreOrcLayout(raw, *detected);
    FUZZ_CHECK(s.plausible * 2 >= s.entries);
  } else {
    FUZZ_CHECK(!detected.status().message().empty());
  }
}

void FuzzOne(const uint8_t* data, size_t size) {
  static World* world = new World();
  World& w = *world;
  for (Kva r : w.regions) {
    std::vector<uint8_t> zeros(kRegionBytes);
    w.guest.Write(r, zeros);
  }
  Input in(data, size);

  // Tables.
  const uint8_t head = in.U8();
  const OrcLayout layout = static_cast<OrcLayout>(head % 3);
  std::vector<OrcSectionRef> refs;
  for (size_t i = 0, n = 1 + ((head >> 2) % kMaxSections); i < n; ++i) {
    refs.push_back(ReadSectionRef(in, w, i, layout));
  }
  OrcTables::Limits limits;
  if (head & 0x40) {
    limits.max_entries_per_section = in.U16();
    limits.max_entries_total = in.U16();
  }
  Reader reader = w.guest.MakeReader();
  absl::StatusOr<std::shared_ptr<const OrcTables>> loaded = OrcTables::Load(reader, refs, limits);

  // Stacks, registers and the generated-code predicate are read whether or not the tables
  // loaded, so one input's layout does not depend on that.
  StackMemory stack;
  for (size_t n = in.U8() % 5; n-- > 0;) {
    const uint8_t where = in.U8();
    const uint64_t kva = (where & 1) ? in.U64() : kStack + in.U16();
    stack.Add(kva, ReadStackBytes(in));
  }
  const uint8_t flags = in.U8();
  UnwindRegisters regs;
  regs.ip = in.Value();
  regs.sp = in.Value();
  regs.bp = in.Value();
  regs.dx = MaybeValue(in, flags & 1);
  regs.di = MaybeValue(in, flags & 2);
  regs.r10 = MaybeValue(in, flags & 4);
  regs.r13 = MaybeValue(in, flags & 8);
  regs.ax = MaybeValue(in, flags & 16);
  regs.user_mode = (flags & 0xe0) == 0xe0;
  const uint64_t thread_sp = in.Value();
  InactiveFrameLayout frame;
  if (flags & 0x20) {
    frame.bp = in.U8();
    frame.ret_addr = in.U8();
    frame.size = in.U8();
    if (flags & 0x40) frame.size = in.U32();
  }
  const size_t max_frames = in.U8();
  const uint8_t gen_mode = in.U8() % 3;
  const uint64_t gen_begin = in.Value(), gen_end = gen_begin + in.U16();
  IsGeneratedCode is_generated;
  if (gen_mode == 1) is_generated = [](uint64_t) { return true; };
  if (gen_mode == 2) {
    is_generated = [gen_begin, gen_end](uint64_t ip) { return ip >= gen_begin && ip < gen_end; };
  }
  std::vector<uint64_t> probes = {in.Value(), in.Value(), 0, ~0ull, kText};

  if (loaded.ok()) {
    const OrcTables& tables = **loaded;
    uint64_t claimed = 0;
    for (const OrcSectionRef& r : refs) {
      claimed = r.count > ~0ull - claimed ? ~0ull : claimed + r.count;
    }
    FUZZ_CHECK(tables.sections() >= 1 && tables.sections() <= refs.size());
    FUZZ_CHECK(tables.sections() + tables.skipped().size() <= refs.size());
    FUZZ_CHECK(tables.entries() <= claimed && tables.entries() <= limits.max_entries_total);
    for (uint64_t ip : probes) {
      if (std::optional<OrcLookup> at = tables.Find(ip)) {
        FUZZ_CHECK(at->module != nullptr);
        bool inside = false;
        for (const OrcSectionRef& r : refs) {
          inside |= *at->module == r.module && ip >= r.text_begin && ip < r.text_end;
        }
        FUZZ_CHECK(inside);
      }
    }
    RunBoth([&](const UnwindLimits& l) { return Unwind(tables, stack, regs, is_generated, l); },
            tables, stack, max_frames, regs.ip, regs.user_mode);
    RunBoth(
        [&](const UnwindLimits& l) {
          return UnwindSleeping(tables, stack, thread_sp, frame, is_generated, l);
        },
        tables, stack, max_frames, std::nullopt, false);
  } else {
    FUZZ_CHECK(!loaded.status().message().empty());
    if (std::getenv("UNWIND_FUZZ_VERBOSE") != nullptr) {
      std::fprintf(stderr, "load: %s\n", std::string(loaded.status().message()).c_str());
    }
  }
  FuzzRawEntries(in.Rest());
}

}  // namespace
}  // namespace kfreeze::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kfreeze::fuzz;
  InputBounds bounds(kInputWall, kRssBound);
  FuzzOne(data, size);
  bounds.Check("unwind");
  return 0;
}

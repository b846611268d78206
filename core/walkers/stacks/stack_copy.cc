#include "core/walkers/stacks/stack_copy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kfreeze::walkers::stacks {
namespace {

constexpr uint64_t kPage = 4096;

std::string Hex(uint64_t v) { return absl::StrCat("0x", absl::Hex(v)); }

std::string Unreadable(uint64_t begin, uint64_t end, const absl::Status& why) {
  return absl::StrCat("stack ", Hex(begin), "..", Hex(end), " unreadable: ", why.message());
}

// Fills copy.kva/bytes with [begin, end), or says why not. The copy stage only needs the pages in
// its snapshot (the decode stage reads them again), so there it skips the private copy.
void CopyRange(Reader& reader, uint64_t begin, uint64_t end, TaskStackCopy& copy) {
  if (reader.copying()) {
    if (absl::Status s = reader.Prefetch(Kva(begin), end - begin); !s.ok()) {
      copy.unavailable = Unreadable(begin, end, s);
    }
    return;
  }
  absl::StatusOr<std::vector<uint8_t>> bytes = reader.ReadBytes(Kva(begin), end - begin);
  if (!bytes.ok()) {
    copy.unavailable = Unreadable(begin, end, bytes.status());
    return;
  }
  copy.kva = begin;
  copy.bytes = *std::move(bytes);
}

// What a sleeping task's last switch saved: x86 thread.sp (the frame itself is on the stack);
// arm64 thread.cpu_context's sp, fp and pc. False with copy.unavailable set when unreadable.
bool ReadSwitchFrame(Reader& reader, const StackLayout& layout, uint64_t task_kva,
                     TaskStackCopy& copy) {
  if (layout.switch_frame == SwitchFrame::kArm64CpuContext) {
    if (!layout.cpu_context) {
      copy.unavailable = layout.missing;
      return false;
    }
    const Arm64CpuContextOffsets& at = *layout.cpu_context;
    absl::StatusOr<uint64_t> sp = reader.ReadU64(Kva(task_kva + at.sp));
    absl::StatusOr<uint64_t> fp = reader.ReadU64(Kva(task_kva + at.fp));
    absl::StatusOr<uint64_t> pc = reader.ReadU64(Kva(task_kva + at.pc));
    if (!sp.ok() || !fp.ok() || !pc.ok()) {
      copy.unavailable = absl::StrCat("thread.cpu_context unreadable: ", (!sp.ok()   ? sp.status()
                                                                          : !fp.ok() ? fp.status()
                                                                                     : pc.status())
                                                                             .message());
      return false;
    }
    copy.saved_sp = *sp;
    copy.saved_fp = *fp;
    copy.saved_pc = *pc;
    return true;
  }
  if (!layout.thread_sp) {
    copy.unavailable = layout.missing;
    return false;
  }
  absl::StatusOr<uint64_t> sp = reader.ReadU64(Kva(task_kva + *layout.thread_sp));
  if (!sp.ok()) {
    copy.unavailable = absl::StrCat("thread.sp unreadable: ", sp.status().message());
    return false;
  }
  copy.saved_sp = *sp;
  return true;
}

}  // namespace

TaskStackCopies CopyTaskStacks(Reader& reader, const StackLayout& layout,
                               const tasks::TaskStackRefs& refs) {
  TaskStackCopies out;
  out.tasks.reserve(refs.tasks.size());
  for (const tasks::TaskStackRef& ref : refs.tasks) {
    TaskStackCopy& copy = out.tasks.emplace_back();
    copy.task = ref;
    const uint64_t base = ref.stack_base;
    const uint64_t top = base + layout.thread_size;
    if (top < base || base % kPage != 0) {
      copy.unavailable = absl::StrCat("stack base ", Hex(base), " is not a kernel stack");
      continue;
    }
    uint64_t begin = base;
    if (!ref.running) {
      if (!ReadSwitchFrame(reader, layout, ref.task_kva, copy)) continue;
      if (copy.saved_sp < base || copy.saved_sp >= top ||
          (layout.switch_frame == SwitchFrame::kX86InactiveTaskFrame &&
           top - copy.saved_sp < layout.frame_size)) {
        copy.unavailable = absl::StrCat("saved SP ", Hex(copy.saved_sp), " is outside its stack ",
                                        Hex(base), "..", Hex(top));
        continue;
      }
      begin = copy.saved_sp;
    }
    if (out.bytes + (top - begin) > kMaxStackBytesPerDump) {
      copy.unavailable =
          absl::StrCat("stack copies reached ", kMaxStackBytesPerDump >> 20, " MiB in this dump");
      continue;
    }
    if (!reader.ChargeHeld(top - begin)) {
      copy.unavailable = std::string(reader.budget()->status().message());
      continue;
    }
    CopyRange(reader, begin, top, copy);
    // Counted the same in both stages (the copy stage keeps no bytes), so both cap alike.
    if (copy.unavailable.empty()) out.bytes += top - begin;
  }
  return out;
}

std::vector<dump::GuestCopy> CopyVcpuStacks(Reader& reader,
                                            const std::vector<dump::VcpuRegisters>& registers) {
  std::vector<dump::GuestCopy> out;
  for (const dump::VcpuRegisters& r : registers) {
    if (!r.kernel_mode || r.sp == 0) continue;
    dump::GuestCopy copy;
    copy.cpu_index = r.cpu_index;
    copy.kva = r.sp;
    uint64_t at = r.sp;
    while (at - r.sp < kMaxVcpuStackCopy && at >= r.sp) {
      uint64_t page_end = (at | (kPage - 1)) + 1;
      if (page_end == 0) break;  // wrapped past the top of the address space
      uint64_t len = std::min(page_end, r.sp + kMaxVcpuStackCopy) - at;
      absl::StatusOr<std::vector<uint8_t>> bytes = reader.ReadBytes(Kva(at), len);
      if (!bytes.ok()) break;
      copy.bytes.insert(copy.bytes.end(), bytes->begin(), bytes->end());
      at += len;
    }
    if (!copy.bytes.empty()) out.push_back(std::move(copy));
  }
  return out;
}

}  // namespace kfreeze::walkers::stacks

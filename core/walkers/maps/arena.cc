#include "core/walkers/maps/arena.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/status.h"
#include "core/mem/translator.h"

namespace kfreeze::walkers::maps {

absl::StatusOr<ArenaCapture> CaptureArena(Reader& reader, const BpfMapInfo& map,
                                          const ArenaOffsets& off, const MapCaps& caps) {
  absl::StatusOr<uint64_t> user_vm_start = reader.ReadU64(map.kva + off.user_vm_start);
  if (!user_vm_start.ok()) return user_vm_start.status();
  absl::StatusOr<uint64_t> kern_vm = reader.ReadU64(map.kva + off.kern_vm);
  if (!kern_vm.ok()) return kern_vm.status();
  if (*kern_vm == 0) return BadData("bpf_arena.kern_vm is NULL");
  absl::StatusOr<uint64_t> vm_addr = reader.ReadU64(Kva(*kern_vm) + off.vm_addr);
  if (!vm_addr.ok()) return vm_addr.status();

  ArenaCapture out;
  auto& snap = out.snapshot;
  const uint64_t kern_vm_start = *vm_addr + kArenaHalfGuard;
  snap.set_kern_vm_start(kern_vm_start);
  snap.set_user_vm_start(*user_vm_start);
  const uint64_t declared = map.max_entries;  // arena max_entries counts pages
  snap.set_declared_pages(declared);
  uint64_t pages = declared;
  if (pages * kPageSize > kArenaMaxSpan) {
    pages = kArenaMaxSpan / kPageSize;
    snap.set_span_capped(true);
  }
  std::vector<uint64_t> offsets;
  const uint64_t prefix = std::min<uint64_t>(pages, caps.max_arena_pages);
  for (uint64_t p = 0; p < prefix; ++p) offsets.push_back(p);
  if (pages > prefix) {
    snap.set_truncated(true);
    const uint64_t rest = pages - prefix;
    const uint64_t probes = std::min<uint64_t>(rest, caps.max_arena_stride_probes);
    const uint64_t stride = (rest + probes - 1) / probes;
    for (uint64_t p = prefix; p < pages && offsets.size() < prefix + probes; p += stride) {
      offsets.push_back(p);
    }
  }
  std::string page(kPageSize, '\0');
  for (uint64_t pgoff : offsets) {
    const uint64_t user_addr = *user_vm_start + pgoff * kPageSize;
    const Kva kaddr = Kva(kern_vm_start + static_cast<uint32_t>(user_addr));
    if (!reader.Translate(kaddr).ok()) {
      ++out.unmapped_probes;
      continue;
    }
    absl::Status st = reader.ReadVirt(
        kaddr, std::span<uint8_t>(reinterpret_cast<uint8_t*>(page.data()), page.size()));
    if (!st.ok()) {
      ++out.unreadable;
      continue;
    }
    auto* p = snap.add_pages();
    p->set_user_addr(user_addr);
    p->set_bytes(page);
  }
  return out;
}

ArenaView::ArenaView(const kfreeze::v1::ArenaSnapshot& snapshot) {
  start_ = snapshot.user_vm_start();
  const uint64_t span = std::min<uint64_t>(snapshot.declared_pages() * kPageSize, kArenaMaxSpan);
  end_ = start_ + span;
  for (const auto& page : snapshot.pages()) pages_[page.user_addr()] = &page.bytes();
}

bool ArenaView::Contains(uint64_t addr) const { return addr >= start_ && addr < end_; }

absl::Status ArenaView::Read(uint64_t addr, absl::Span<uint8_t> out) const {
  uint64_t done = 0;
  while (done < out.size()) {
    const uint64_t at = addr + done;
    const uint64_t page_addr = at & ~(kPageSize - 1);
    auto it = pages_.find(page_addr);
    if (it == pages_.end() || it->second->size() != kPageSize) {
      return absl::NotFoundError(absl::StrCat("arena page ", Hex(page_addr), " not captured"));
    }
    const uint64_t in_page = at - page_addr;
    const uint64_t n = std::min<uint64_t>(kPageSize - in_page, out.size() - done);
    std::copy_n(it->second->data() + in_page, n, out.data() + done);
    done += n;
  }
  return absl::OkStatus();
}

}  // namespace kfreeze::walkers::maps

#include "core/mem/guest_snapshot.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "core/base/status.h"

namespace kfreeze {
namespace {

// Pages are taken from mmap'd chunks. Fresh anonymous memory costs a page fault and a zeroing per
// page, inside the freeze window; so freed chunks are kept for the next dump up to a small bound
// (the daemon's footprint stays flat) and the rest go back to the kernel.
constexpr uint64_t kChunkBytes = 1 << 20;
constexpr size_t kPooledChunks = 48;  // 48 MiB kept warm

// Pages the previous dump copied: the next one sizes its indexes for as many up front, so they
// do not rehash while the guest stands still.
std::atomic<uint64_t> last_dump_pages{1024};

class ChunkPool {
 public:
  std::span<uint8_t> Take() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        std::span<uint8_t> c = free_.back();
        free_.pop_back();
        return c;
      }
    }
    void* p = mmap(nullptr, kChunkBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) return {};
    return {static_cast<uint8_t*>(p), kChunkBytes};
  }
  void Give(std::span<uint8_t> c) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (free_.size() < kPooledChunks) {
        free_.push_back(c);
        return;
      }
    }
    munmap(c.data(), c.size());
  }

 private:
  std::mutex mu_;
  std::vector<std::span<uint8_t>> free_;
};

ChunkPool& Pool() {
  static ChunkPool* pool = new ChunkPool();  // never destroyed: dumps may end during exit
  return *pool;
}

constexpr uint64_t kPagesPerChunk = kChunkBytes / GuestSnapshot::kBlockBytes;

}  // namespace

GuestSnapshot::GuestSnapshot(uint64_t max_bytes) : max_pages_(max_bytes / kBlockBytes) {
  const uint64_t expect = std::min(last_dump_pages.load(std::memory_order_relaxed), max_pages_);
  phys_.reserve(expect);
  virt_.reserve(expect);
}

GuestSnapshot::~GuestSnapshot() {
  if (pages_ > 0) last_dump_pages.store(pages_, std::memory_order_relaxed);
  for (std::span<uint8_t> c : chunks_) Pool().Give(c);
}

absl::StatusOr<uint8_t*> GuestSnapshot::NewPage() {
  if (pages_ >= max_pages_) {
    return absl::ResourceExhaustedError(absl::StrCat("the dump's page snapshot is full (",
                                                     max_pages_ * kBlockBytes, " bytes copied)"));
  }
  if (chunks_.empty() || chunk_used_ == kPagesPerChunk) {
    std::span<uint8_t> c = Pool().Take();
    if (c.empty()) return absl::ResourceExhaustedError("no memory for the dump's page snapshot");
    chunks_.push_back(c);
    chunk_used_ = 0;
  }
  uint8_t* page = chunks_.back().data() + chunk_used_ * kBlockBytes;
  ++chunk_used_;
  ++pages_;
  return page;
}

absl::StatusOr<const uint8_t*> GuestSnapshot::RecordPhys(uint64_t pa_page, const GuestRam& ram) {
  auto [it, inserted] = phys_.try_emplace(pa_page, nullptr);
  if (!inserted) return it->second;
  absl::StatusOr<uint8_t*> page = NewPage();
  if (page.ok()) {
    absl::Status s = ram.Read(Pa(pa_page), std::span<uint8_t>(*page, kBlockBytes));
    if (s.ok()) {
      it->second = *page;
      return *page;
    }
    page = s;
    // The slot stays used: rare (a hole in guest RAM), and a freed slot would complicate chunks.
  }
  phys_.erase(it);
  return page.status();
}

absl::StatusOr<const uint8_t*> GuestSnapshot::RecordVirt(uint64_t root, uint64_t va_page,
                                                         uint64_t pa_page, const GuestRam& ram) {
  auto it = virt_.find(VirtKey{root, va_page});
  if (it != virt_.end() && it->second.pa_page == pa_page) return it->second.data;
  absl::StatusOr<const uint8_t*> page = RecordPhys(pa_page, ram);
  if (!page.ok()) return page;
  virt_[VirtKey{root, va_page}] = VirtEntry{pa_page, *page};
  return page;
}

const uint8_t* GuestSnapshot::FindPhys(uint64_t pa_page) const {
  auto it = phys_.find(pa_page);
  return it == phys_.end() ? nullptr : it->second;
}

std::pair<const uint8_t*, uint64_t> GuestSnapshot::FindVirt(uint64_t root, uint64_t va_page) const {
  auto it = virt_.find(VirtKey{root, va_page});
  if (it == virt_.end()) return {nullptr, 0};
  return {it->second.data, it->second.pa_page};
}

}  // namespace kfreeze

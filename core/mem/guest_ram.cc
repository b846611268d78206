// GuestRam: read-only mmap of the shared RAM file plus region lookups and guarded copies.
#include "core/mem/guest_ram.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/caps.h"
#include "core/base/checked.h"
#include "core/base/safe_open.h"
#include "core/base/status.h"
#include "core/mem/sigbus_guard.h"

namespace kfreeze {
namespace {

// Page starts scanned per mincore() query (2048 host pages: a 2 KiB residency vector).
constexpr uint64_t kScanWindowBytes = 8 * caps::kMiB;

}  // namespace

absl::StatusOr<std::unique_ptr<GuestRam>> GuestRam::OpenFile(const std::string& path,
                                                             std::optional<RamLayout> layout) {
  // Non-blocking and type-checked: a FIFO or device named as RAM fails at once.
  absl::StatusOr<UniqueFd> fd = OpenRegularFile(path, "RAM file");
  if (!fd.ok()) return fd.status();
  return Map(fd->release(), path, std::move(layout));
}

absl::StatusOr<std::unique_ptr<GuestRam>> GuestRam::OpenFd(int fd,
                                                           std::optional<RamLayout> layout) {
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) {
    return absl::InvalidArgumentError(absl::StrCat("dup fd ", fd, ": ", std::strerror(errno)));
  }
  return Map(dup_fd, absl::StrCat("fd:", fd), std::move(layout));
}

absl::StatusOr<std::unique_ptr<GuestRam>> GuestRam::Map(int owned_fd, std::string source,
                                                        std::optional<RamLayout> layout) {
  std::unique_ptr<GuestRam> ram(new GuestRam());
  ram->fd_ = owned_fd;
  ram->source_ = std::move(source);
  struct stat st;
  if (fstat(owned_fd, &st) != 0) {
    return absl::InternalError(absl::StrCat("fstat ", ram->source_, ": ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(ram->source_, " is not a non-empty regular file (RAM backing)"));
  }
  ram->file_bytes_ = static_cast<uint64_t>(st.st_size);
  ram->layout_ = layout ? std::move(*layout) : RamLayout::Q35(ram->file_bytes_);
  if (ram->layout_.FileBytesNeeded() > ram->file_bytes_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RAM layout ", ram->layout_.ToString(), " needs ", ram->layout_.FileBytesNeeded(),
        " bytes but ", ram->source_, " has ", ram->file_bytes_));
  }
  void* base = mmap(nullptr, ram->file_bytes_, PROT_READ, MAP_SHARED, owned_fd, 0);
  if (base == MAP_FAILED) {
    return absl::InternalError(absl::StrCat("mmap ", ram->source_, ": ", std::strerror(errno)));
  }
  ram->base_ = static_cast<const uint8_t*>(base);
  return ram;
}

GuestRam::~GuestRam() {
  if (base_ != nullptr) munmap(const_cast<uint8_t*>(base_), file_bytes_);
  if (fd_ >= 0) close(fd_);
}

const RamRegion* GuestRam::FindRegion(uint64_t pa) const {
  const std::vector<RamRegion>& regions = layout_.regions();
  auto it = std::upper_bound(regions.begin(), regions.end(), pa,
                             [](uint64_t v, const RamRegion& r) { return v < r.gpa.value; });
  if (it == regions.begin()) return nullptr;
  --it;
  return pa - it->gpa.value < it->size ? &*it : nullptr;
}

absl::Status GuestRam::LostError(Pa pa) const {
  return FaultError(pa, absl::StrCat("guest RAM ", source_, " shrank or vanished (SIGBUS)"));
}

absl::StatusOr<uint64_t> GuestRam::ContiguousBytes(Pa pa, uint64_t want) const {
  const RamRegion* region = FindRegion(pa.value);
  if (region == nullptr) return FaultError(pa, "not in guest RAM");
  return std::min(want, region->size - (pa.value - region->gpa.value));
}

absl::Status GuestRam::Read(Pa pa, std::span<uint8_t> out) const {
  uint64_t done = 0;
  while (done < out.size()) {
    Pa at = pa + done;
    if (at.value < pa.value) return FaultError(pa, "read wraps the physical address space");
    if (lost()) return LostError(at);
    const RamRegion* region = FindRegion(at.value);
    if (region == nullptr) return FaultError(at, "not in guest RAM");
    uint64_t in_region = at.value - region->gpa.value;
    uint64_t n = std::min<uint64_t>(out.size() - done, region->size - in_region);
    if (!internal::GuardedCopy(out.data() + done, base_ + region->file_offset + in_region, n)) {
      lost_.store(true, std::memory_order_relaxed);
      return LostError(at);
    }
    done += n;
  }
  return absl::OkStatus();
}

void GuestRam::Prefetch(Pa pa) const {
  const RamRegion* region = FindRegion(pa.value);
  if (region != nullptr)
    __builtin_prefetch(base_ + region->file_offset + (pa.value - region->gpa.value));
}

absl::Status GuestRam::CopyPages(std::span<const uint64_t> pa_pages, uint8_t* dst) const {
  constexpr size_t kBatch = 64;
  std::array<const uint8_t*, kBatch> src;
  for (size_t done = 0; done < pa_pages.size(); done += kBatch) {
    const size_t n = std::min(kBatch, pa_pages.size() - done);
    for (size_t i = 0; i < n; ++i) {
      const uint64_t pa = pa_pages[done + i];
      const RamRegion* region = FindRegion(pa);
      if ((pa & 4095) != 0 || region == nullptr || region->size - (pa - region->gpa.value) < 4096) {
        return FaultError(Pa(pa), "is not a whole page of guest RAM");
      }
      src[i] = base_ + region->file_offset + (pa - region->gpa.value);
    }
    if (lost()) return LostError(Pa(pa_pages[done]));
    if (!internal::GuardedStreamPages(dst + done * 4096, src.data(), n)) {
      lost_.store(true, std::memory_order_relaxed);
      return LostError(Pa(pa_pages[done]));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> GuestRam::ReadU64(Pa pa) const {
  uint64_t value = 0;
  absl::Status s = Read(pa, std::span<uint8_t>(reinterpret_cast<uint8_t*>(&value), 8));
  if (!s.ok()) return s;
  return value;
}

absl::StatusOr<std::optional<Pa>> GuestRam::FindPage(const PagePattern& pattern, Pa from) const {
  if (pattern.bytes.size() != pattern.mask.size() || pattern.bytes.empty() ||
      pattern.bytes.size() > 64 || pattern.page_size < pattern.bytes.size() ||
      (pattern.page_size & (pattern.page_size - 1)) != 0) {
    return absl::InvalidArgumentError("bad page pattern");
  }
  const uint64_t ps = pattern.page_size;
  for (const RamRegion& region : layout_.regions()) {
    uint64_t region_end = region.gpa.value + region.size;
    uint64_t start = std::max(from.value, region.gpa.value);
    std::optional<uint64_t> aligned = CheckedAdd(start, ps - 1);
    if (!aligned) break;
    start = *aligned & ~(ps - 1);
    if (start >= region_end || region_end - start < pattern.bytes.size()) continue;
    // Holes in the file (never-touched guest pages) read as zeros and cannot match. SEEK_DATA
    // skips big holes cheaply; inside a window, mincore() says which pages exist, so the scan
    // never faults in (and makes the host allocate) pages the guest never touched. SEEK_HOLE is
    // avoided: on a dense tmpfs file it walks to the end of the data, costing tens of ms.
    uint64_t at = start;
    while (at < region_end && region_end - at >= pattern.bytes.size()) {
      off_t data =
          lseek(fd_, static_cast<off_t>(region.file_offset + (at - region.gpa.value)), SEEK_DATA);
      if (data < 0 && errno == ENXIO) break;  // only holes up to EOF
      uint64_t window =
          data < 0 ? at : region.gpa.value + (static_cast<uint64_t>(data) - region.file_offset);
      window = std::max(at, (window + ps - 1) & ~(ps - 1));
      if (window >= region_end) break;
      const uint64_t window_end = std::min(region_end, window + kScanWindowBytes);
      KF_ASSIGN_OR_RETURN(std::optional<Pa> hit, ScanWindow(region, window, window_end, pattern));
      if (hit) return hit;
      at = window_end;
    }
  }
  return std::optional<Pa>();
}

absl::StatusOr<std::optional<Pa>> GuestRam::ScanWindow(const RamRegion& region, uint64_t begin,
                                                       uint64_t end,
                                                       const PagePattern& pattern) const {
  const uint64_t ps = pattern.page_size;
  const uint8_t* base = base_ + region.file_offset + (begin - region.gpa.value);
  const uint64_t host_pages = (end - begin + 4095) / 4096;
  std::vector<unsigned char> resident(host_pages, 1);
  if ((reinterpret_cast<uintptr_t>(base) & 4095) == 0) {
    // On failure keep "all resident": correctness over thrift.
    if (mincore(const_cast<uint8_t*>(base), end - begin, resident.data()) != 0)
      resident.assign(host_pages, 1);
  }
  // Runs of consecutive candidate page starts whose host page exists.
  uint64_t pos = begin;
  while (pos < end && end - pos >= pattern.bytes.size()) {
    if (!(resident[(pos - begin) / 4096] & 1)) {
      pos += ps;
      continue;
    }
    uint64_t run_end = pos;
    while (run_end < end && end - run_end >= pattern.bytes.size() &&
           (resident[(run_end - begin) / 4096] & 1)) {
      run_end += ps;
    }
    const uint64_t count = (run_end - pos) / ps;
    if (lost()) return LostError(Pa(pos));
    int64_t hit = internal::GuardedFindBlock(base + (pos - begin), count, ps, pattern.bytes.data(),
                                             pattern.mask.data(), pattern.bytes.size());
    if (hit < 0) {
      lost_.store(true, std::memory_order_relaxed);
      return LostError(Pa(pos));
    }
    if (static_cast<uint64_t>(hit) < count)
      return std::optional<Pa>(Pa(pos + static_cast<uint64_t>(hit) * ps));
    pos = run_end;
  }
  return std::optional<Pa>();
}

}  // namespace kfreeze

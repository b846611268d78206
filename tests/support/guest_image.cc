// GuestImage: the built RAM file plus post-build corruption helpers.
#include "tests/support/guest_image.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kfreeze::testing {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "GuestImage: %s\n", what.c_str());
  std::abort();
}

}  // namespace

GuestImage::GuestImage(int fd, uint64_t file_bytes, GuestImageTruth truth, VirtualMap vmap)
    : fd_(fd), file_bytes_(file_bytes), truth_(std::move(truth)), vmap_(std::move(vmap)) {}

GuestImage::GuestImage(GuestImage&& other) noexcept
    : fd_(other.fd_),
      file_bytes_(other.file_bytes_),
      truth_(std::move(other.truth_)),
      vmap_(std::move(other.vmap_)) {
  other.fd_ = -1;
}

GuestImage::~GuestImage() {
  if (fd_ >= 0) close(fd_);
}

std::string GuestImage::path() const { return absl::StrCat("/proc/self/fd/", fd_); }

AttachOptions GuestImage::attach_options() const {
  AttachOptions o;
  o.ram_fd = fd_;
  o.ram_layout = truth_.ram_base == 0
                     ? "flat"
                     : absl::StrFormat("0x%x:0x%x@0", truth_.ram_base, truth_.ram_bytes);
  return o;
}

Kva GuestImage::symbol(absl::string_view name) const {
  auto it = truth_.symbols.find(std::string(name));
  if (it == truth_.symbols.end()) Die(absl::StrCat("no symbol ", name));
  return it->second;
}

void GuestImage::WritePhys(Pa pa, std::span<const uint8_t> bytes) {
  if (pa.value < truth_.ram_base) Die(absl::StrCat("write below RAM at ", Hex(pa)));
  if (pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(pa.value - truth_.ram_base)) !=
      static_cast<ssize_t>(bytes.size())) {
    Die("pwrite");
  }
}

void GuestImage::WriteVirt(Kva va, std::span<const uint8_t> bytes) {
  uint64_t done = 0;
  while (done < bytes.size()) {
    std::optional<Pa> pa = vmap_.Translate(va + done);
    if (!pa) Die(absl::StrCat("write to unmapped ", Hex(va + done)));
    const uint64_t n = std::min<uint64_t>(bytes.size() - done, 4096 - ((va.value + done) % 4096));
    WritePhys(*pa, bytes.subspan(done, n));
    done += n;
  }
}

void GuestImage::Truncate(uint64_t bytes) {
  if (ftruncate(fd_, static_cast<off_t>(bytes)) != 0) Die("ftruncate");
  file_bytes_ = bytes;
}

}  // namespace kfreeze::testing

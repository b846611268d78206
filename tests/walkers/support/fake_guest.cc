#include "tests/walkers/support/fake_guest.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace kfreeze::testing {
namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "FakeGuest: %s\n", what);
  std::abort();
}

}  // namespace

FakeGuest::FakeGuest(uint64_t ram_bytes) : ram_bytes_(ram_bytes) {
  fd_ = memfd_create("kfreeze-fake-guest", 0);
  if (fd_ < 0 || ftruncate(fd_, static_cast<off_t>(ram_bytes)) != 0) Die("memfd");
  void* rw = mmap(nullptr, ram_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (rw == MAP_FAILED) Die("mmap");
  rw_ = static_cast<uint8_t*>(rw);
  absl::StatusOr<std::unique_ptr<GuestRam>> ram = GuestRam::OpenFd(fd_, RamLayout::Flat(ram_bytes));
  if (!ram.ok()) Die("GuestRam::OpenFd");
  ram_ = std::move(*ram);
  PagingConfig cfg = X86_64Paging(/*phys_base=*/0, kFakeDirectMapBase, ram_bytes);
  translator_ = std::make_unique<Translator>(*ram_, cfg);
}

FakeGuest::~FakeGuest() {
  translator_.reset();
  ram_.reset();
  if (rw_ != nullptr) munmap(rw_, ram_bytes_);
  if (fd_ >= 0) close(fd_);
}

Kva FakeGuest::Alloc(uint64_t size, uint64_t align) {
  uint64_t at = (next_ + align - 1) / align * align;
  if (at + size > ram_bytes_) Die("out of fake RAM");
  next_ = at + (size == 0 ? 1 : size);
  return Kva(kFakeDirectMapBase + at);
}

void FakeGuest::Write(Kva at, std::span<const uint8_t> bytes) {
  uint64_t pa = at.value - kFakeDirectMapBase;
  if (at.value < kFakeDirectMapBase || pa + bytes.size() > ram_bytes_) Die("write outside RAM");
  if (bytes.empty()) return;  // memcpy from an empty span's null data is UB
  std::memcpy(rw_ + pa, bytes.data(), bytes.size());
}

void FakeGuest::PutString(Kva at, std::string_view s) {
  Write(at, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  Put<uint8_t>(at + s.size(), 0);
}

}  // namespace kfreeze::testing

// A small guest for walker tests: a memfd of RAM seen through the real GuestRam/Translator/Reader,
// every byte reachable through the direct map, objects placed with a bump allocator.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

#include "core/base/types.h"
#include "core/mem/guest_ram.h"
#include "core/mem/reader.h"
#include "core/mem/translator.h"

namespace kfreeze::testing {

// x86-64's default direct-map base (no KASLR), so addresses look like the real thing.
inline constexpr uint64_t kFakeDirectMapBase = 0xffff888000000000ull;

class FakeGuest {
 public:
  explicit FakeGuest(uint64_t ram_bytes = 16ull << 20);
  ~FakeGuest();
  FakeGuest(const FakeGuest&) = delete;
  FakeGuest& operator=(const FakeGuest&) = delete;

  // Zeroed, `align`-aligned bytes; addresses never repeat. Aborts the test when RAM runs out.
  Kva Alloc(uint64_t size, uint64_t align = 64);
  // A KVA the translator cannot map (beyond the direct map), for fault tests.
  static Kva Unmapped() { return Kva(0xffffc90000000000ull); }

  void Write(Kva at, std::span<const uint8_t> bytes);
  template <typename T>
  void Put(Kva at, T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    Write(at, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&value), sizeof(T)));
  }
  void PutPtr(Kva at, Kva target) { Put<uint64_t>(at, target.value); }
  void PutString(Kva at, std::string_view s);  // with a trailing NUL

  Reader MakeReader() const { return Reader(*translator_); }
  const Translator& translator() const { return *translator_; }
  uint64_t ram_bytes() const { return ram_bytes_; }
  // Bytes handed out so far ([0, used_bytes()) holds every object), and the RAM itself, for the
  // guest-memory fuzzer that mutates objects in place and restores them.
  uint64_t used_bytes() const { return next_; }
  std::span<uint8_t> raw() { return {rw_, ram_bytes_}; }

 private:
  uint64_t ram_bytes_;
  int fd_ = -1;
  uint8_t* rw_ = nullptr;
  uint64_t next_ = 4096;  // page 0 stays unused: a zero PA never aliases an object
  std::unique_ptr<GuestRam> ram_;
  std::unique_ptr<Translator> translator_;
};

}  // namespace kfreeze::testing

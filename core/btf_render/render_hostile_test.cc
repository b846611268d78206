// Hostile BTF: thousands of byte-mutated variants of a realistic program BTF, each parsed by
// libbpf the way program BTF from a guest is, then every type rendered over random bytes.
// Nothing may crash, hang or read out of bounds (this test runs under ASan/UBSan in
// `make test`); every render must produce some value.
#include <bpf/btf.h>

#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "core/btf_render/render.h"
#include "gtest/gtest.h"

namespace kfreeze::btf_render {
namespace {

using BtfPtr = std::unique_ptr<struct btf, void (*)(struct btf*)>;

// A BTF with every kind the renderer handles, like a scheduler's .bss would have.
std::vector<uint8_t> SeedBtf() {
  BtfPtr b(btf__new_empty(), btf__free);
  struct btf* p = b.get();
  const int u8 = btf__add_int(p, "u8", 1, 0);
  const int s32 = btf__add_int(p, "int", 4, BTF_INT_SIGNED);
  const int u64 = btf__add_int(p, "u64", 8, 0);
  const int chr = btf__add_int(p, "char", 1, BTF_INT_SIGNED);
  const int bl = btf__add_int(p, "_Bool", 1, BTF_INT_BOOL);
  const int f64 = btf__add_float(p, "double", 8);
  const int e = btf__add_enum(p, "mode", 4);
  btf__add_enum_value(p, "A", 0);
  btf__add_enum_value(p, "B", -1);
  const int e64 = btf__add_enum64(p, "big", 8, false);
  btf__add_enum64_value(p, "HUGE", 1ull << 40);
  const int name = btf__add_array(p, s32, chr, 16);
  const int grid = btf__add_array(p, s32, name, 3);
  const int fwd = btf__add_fwd(p, "opaque", BTF_FWD_STRUCT);
  const int node = btf__add_struct(p, "node", 64);
  btf__add_field(p, "val", u64, 0, 0);
  btf__add_field(p, "next", node + 1, 64, 0);
  btf__add_field(p, "flags", s32, 128, 3);
  btf__add_field(p, "m", e, 131, 2);
  btf__add_field(p, "name", name, 160, 0);
  btf__add_field(p, "on", bl, 288, 0);
  btf__add_field(p, "ratio", f64, 320, 0);
  btf__add_field(p, "wide", e64, 384, 0);
  btf__add_field(p, "hidden", fwd, 448, 0);
  const int node_ptr = btf__add_ptr(p, node);
  const int td = btf__add_typedef(p, "node_t", node);
  const int cv = btf__add_const(p, td);
  const int u = btf__add_union(p, "u", 8);
  btf__add_field(p, "a", u64, 0, 0);
  btf__add_field(p, "b", u8, 0, 0);
  const int v1 = btf__add_var(p, "head", BTF_VAR_GLOBAL_ALLOCATED, node_ptr);
  const int v2 = btf__add_var(p, "cells", BTF_VAR_GLOBAL_ALLOCATED, grid);
  const int v3 = btf__add_var(p, "cur", BTF_VAR_GLOBAL_ALLOCATED, cv);
  const int v4 = btf__add_var(p, "either", BTF_VAR_GLOBAL_ALLOCATED, u);
  const int sec = btf__add_datasec(p, ".bss", 8 + 48 + 64 + 8);
  btf__add_datasec_var_info(p, v1, 0, 8);
  btf__add_datasec_var_info(p, v2, 8, 48);
  btf__add_datasec_var_info(p, v3, 56, 64);
  btf__add_datasec_var_info(p, v4, 120, 8);
  (void)sec;
  uint32_t size = 0;
  const auto* raw = static_cast<const uint8_t*>(btf__raw_data(p, &size));
  return std::vector<uint8_t>(raw, raw + size);
}

TEST(RenderHostileBtf, MutatedBtfNeverCrashesAndAlwaysRenders) {
  const std::vector<uint8_t> seed = SeedBtf();
  ASSERT_GT(seed.size(), 24u);
  std::mt19937_64 rng(20261126);
  RenderOptions options;
  options.caps.max_nodes = 4096;  // keeps each render small; caps are tested elsewhere
  int parsed = 0, renders = 0;
  for (int round = 0; round < 3000; ++round) {
    std::vector<uint8_t> blob = seed;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) {
      // Mutate the type and string sections, leaving the header (magic, offsets) mostly intact.
      const size_t at = 24 + rng() % (blob.size() - 24);
      switch (rng() % 3) {
        case 0:
          blob[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 1:
          blob[at] = static_cast<uint8_t>(rng());
          break;
        default:
          blob[at] = (rng() & 1) ? 0xff : 0x00;
          break;
      }
    }
    BtfPtr btf(btf__new(blob.data(), static_cast<uint32_t>(blob.size())), btf__free);
    if (btf == nullptr) continue;  // libbpf 1.x returns NULL (errno set) on a bad blob
    ++parsed;
    const uint32_t n = btf__type_cnt(btf.get());
    for (uint32_t id = 0; id < n + 2; ++id) {
      std::vector<uint8_t> bytes(rng() % 200);
      for (auto& b : bytes) b = static_cast<uint8_t>(rng());
      RenderNotes notes;
      const kfreeze::v1::RenderedValue v = Render(btf.get(), id, bytes, options, &notes);
      ASSERT_NE(v.kind_case(), kfreeze::v1::RenderedValue::KIND_NOT_SET) << "type " << id;
      ++renders;
    }
  }
  // The mutations must leave enough BTFs parseable for the test to mean something.
  EXPECT_GT(parsed, 300);
  EXPECT_GT(renders, 5000);
}

}  // namespace
}  // namespace kfreeze::btf_render

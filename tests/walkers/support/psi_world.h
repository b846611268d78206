// A miniature cgroup v2 hierarchy with PSI groups for the PSI walker's tests and the guest-memory
// fuzzer: BTF for psi_group/cgroup/kernfs_node at this fixture's own offsets, psi_system, the
// cgrp_dfl_root and psi_disabled symbols, and helpers that add named child cgroups.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/walkers/support/kernel_world.h"

namespace kfreeze::testing {
namespace psi_layout {
constexpr uint32_t kTotal = 16, kAvg = 16 + 2 * 7 * 8;  // total[2][7], avg[7][3]
constexpr uint32_t kCssSibling = 0, kCssChildren = 16, kCssSerial = 32;
constexpr uint32_t kCgSelf = 8, kCgKn = 64, kCgPsi = 72;
}  // namespace psi_layout

struct PsiWorld : KernelWorld {
  // `btf_psi_offset`: where the BTF claims cgroup.psi is (hostile BTF: past the 128-byte struct).
  explicit PsiWorld(uint32_t btf_psi_offset = psi_layout::kCgPsi) : KernelWorld(NoPerCpuData{}) {
    using namespace psi_layout;
    btf.Enum("psi_states", {{"PSI_IO_SOME", 0},
                            {"PSI_IO_FULL", 1},
                            {"PSI_MEM_SOME", 2},
                            {"PSI_MEM_FULL", 3},
                            {"PSI_CPU_SOME", 4},
                            {"PSI_CPU_FULL", 5},
                            {"PSI_IRQ_FULL", 6},
                            {"PSI_NONIDLE", 7},
                            {"NR_PSI_STATES", 8}});
    btf.Struct("psi_group", 512, {{"total", "u64[14]", kTotal}, {"avg", "u64[21]", kAvg}});
    btf.Struct("list_head", 16, {{"next", "ptr", 0}, {"prev", "ptr", 8}});
    btf.Struct("cgroup_subsys_state", 40,
               {{"sibling", "list_head", kCssSibling},
                {"children", "list_head", kCssChildren},
                {"serial_nr", "u64", kCssSerial}});
    btf.Struct("kernfs_node", 32, {{"name", "ptr", 8}});
    btf.Struct("cgroup", 128,
               {{"self", "cgroup_subsys_state", kCgSelf},
                {"kn", "ptr", kCgKn},
                {"psi", "ptr", btf_psi_offset}});
    btf.Struct("cgroup_root", 256, {{"cgrp", "cgroup", 64}});
    psi_system = NewGroup(100);
    root_obj = g.Alloc(256);
    root = root_obj + 64;
    InitCgroup(root, "", psi_system, 1);
    disabled = g.Alloc(16);
    Finish({{"psi_system", psi_system.value, 'D'},
            {"cgrp_dfl_root", root_obj.value, 'D'},
            {"psi_disabled", disabled.value, 'D'}});
  }

  Kva NewGroup(uint64_t seed) {
    using namespace psi_layout;
    Kva grp = g.Alloc(512);
    for (uint64_t s = 0; s < 7; ++s) {
      g.Put<uint64_t>(grp + kTotal + s * 8, seed * 1000 + s);  // total[PSI_AVGS][s]
      g.Put<uint64_t>(grp + kTotal + (7 + s) * 8, 0xdead);     // total[PSI_POLL][s]
      for (uint64_t k = 0; k < 3; ++k)
        g.Put<uint64_t>(grp + kAvg + (s * 3 + k) * 8, seed + s * 10 + k);
    }
    return grp;
  }
  void InitCgroup(Kva cg, const std::string& name, Kva psi, uint64_t serial) {
    using namespace psi_layout;
    Kva css = cg + kCgSelf;
    for (uint32_t l : {kCssSibling, kCssChildren}) {
      g.PutPtr(css + l, css + l);
      g.PutPtr(css + l + 8, css + l);
    }
    g.Put<uint64_t>(css + kCssSerial, serial);
    Kva kn = g.Alloc(32);
    Kva nm = g.Alloc(name.size() + 1);
    g.PutString(nm, name);
    g.PutPtr(kn + 8, nm);
    g.PutPtr(cg + kCgKn, kn);
    g.PutPtr(cg + kCgPsi, psi);
  }
  Kva AddChild(Kva parent, const std::string& name, uint64_t seed) {
    using namespace psi_layout;
    Kva cg = g.Alloc(128);
    InitCgroup(cg, name, NewGroup(seed), seed);
    Kva head = parent + kCgSelf + kCssChildren;
    Kva node = cg + kCgSelf + kCssSibling;
    Reader r = g.MakeReader();
    Kva last(r.ReadU64(head + 8).value());
    g.PutPtr(node, head);
    g.PutPtr(node + 8, last);
    g.PutPtr(last, node);
    g.PutPtr(head + 8, node);
    return cg;
  }

  // Hostile: `n` cgroups whose sibling links form a ring with no list head, and every cgroup's
  // children list (the root's too) entering it, so each cgroup claims all n as its children.
  std::vector<Kva> MakeSharedChildRing(int n, size_t name_len) {
    using namespace psi_layout;
    std::vector<Kva> ring;
    for (int i = 0; i < n; ++i) {
      Kva cg = g.Alloc(128);
      std::string name = std::to_string(i);
      name.insert(0, name_len > name.size() ? name_len - name.size() : 0, 'a' + i % 26);
      InitCgroup(cg, name, NewGroup(i), i);
      ring.push_back(cg);
    }
    auto sib = [&](int i) { return ring[(i + n) % n] + kCgSelf + kCssSibling; };
    for (int i = 0; i < n; ++i) {
      g.PutPtr(sib(i), sib(i + 1));
      g.PutPtr(sib(i) + 8, sib(i - 1));
    }
    std::vector<Kva> all = ring;
    all.push_back(root);
    for (Kva cg : all) {
      g.PutPtr(cg + kCgSelf + kCssChildren, sib(0));
      g.PutPtr(cg + kCgSelf + kCssChildren + 8, sib(n - 1));
    }
    return ring;
  }

  Kva psi_system, root_obj, root, disabled;
};

}  // namespace kfreeze::testing

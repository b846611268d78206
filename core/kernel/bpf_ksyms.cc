// BpfKsyms: ListForEach gives the nodes; each node's start, end, name and prog flag then come
// from one read of the span of struct bpf_ksym that holds them.
#include "core/kernel/bpf_ksyms.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <span>

#include "absl/strings/str_cat.h"
#include "core/base/guest_text.h"
#include "core/base/status.h"
#include "core/ds/list.h"

namespace kfreeze {
namespace {

struct KsymOffsets {
  uint64_t start = 0, end = 0, name = 0, name_len = 0, lnode = 0;
  std::optional<uint64_t> prog;
  // [span_begin, span_end) of struct bpf_ksym covers every field read.
  uint64_t span_begin = 0, span_end = 0;
};

Group<KsymOffsets> ResolveKsymOffsets(const OffsetResolver& btf) {
  Group<KsymOffsets> g =
      ResolveGroup<KsymOffsets>(btf, "bpf_ksym", [](OffsetGroup& g, KsymOffsets& o) {
        o.start = g.Offset("bpf_ksym.start");
        o.end = g.Offset("bpf_ksym.end");
        o.name = g.Offset("bpf_ksym.name");
        o.name_len = g.Member("bpf_ksym.name").array_len.value_or(0);
        o.lnode = g.Offset("bpf_ksym.lnode");
        o.prog = g.OptionalOffset("bpf_ksym.prog");
      });
  if (!g) return g;
  KsymOffsets& o = *g;
  if (o.name_len == 0 || o.name_len > kMaxBpfKsymNameLen) o.name_len = kMaxBpfKsymNameLen;
  o.span_begin = std::min({o.start, o.end, o.name});
  o.span_end = std::max({o.start + 8, o.end + 8, o.name + o.name_len});
  if (o.prog) o.span_end = std::max(o.span_end, *o.prog + 1);
  return g;
}

uint64_t U64At(const std::vector<uint8_t>& span, uint64_t at) {
  uint64_t v;
  std::memcpy(&v, span.data() + at, 8);
  return v;
}

}  // namespace

absl::StatusOr<BpfKsyms> BpfKsyms::Read(Reader& reader, const SymbolIndex& symbols,
                                        const OffsetResolver& btf) {
  std::optional<Kva> head = symbols.Address("bpf_kallsyms");
  if (!head) return absl::NotFoundError("no 'bpf_kallsyms' symbol (kernel without BPF JIT?)");
  Group<KsymOffsets> off = ResolveKsymOffsets(btf);
  if (!off) return off.status;
  const KsymOffsets& o = *off;

  ds::ListWalk walk = ds::ListForEach(reader, *head, kMaxBpfKsyms);
  if (walk.nodes.empty() && !walk.error.ok()) return walk.error;
  BpfKsyms out;
  if (walk.truncated) out.problems_.push_back(absl::StrCat("bpf_kallsyms cut at ", kMaxBpfKsyms));
  if (walk.cycle) out.problems_.push_back("bpf_kallsyms has a cycle; walk stopped at the repeat");
  if (!walk.error.ok()) {
    out.problems_.push_back(absl::StrCat("bpf_kallsyms broken: ", walk.error.message()));
  }
  if (walk.broken_back_links != 0) {
    out.problems_.push_back(absl::StrCat(walk.broken_back_links, " torn bpf_kallsyms links"));
  }

  std::vector<uint8_t> span(o.span_end - o.span_begin);
  uint32_t unreadable = 0, bad_range = 0;
  out.ksyms_.reserve(walk.nodes.size());
  for (Kva node : walk.nodes) {
    const Kva ksym = ds::ContainerOf(node, o.lnode);
    absl::Status s = reader.ReadVirt(ksym + o.span_begin, std::span<uint8_t>(span));
    if (!s.ok()) {
      if (unreadable++ == 0) {
        out.problems_.push_back(absl::StrCat("bpf_ksym at ", Hex(ksym), ": ", s.message()));
      }
      continue;
    }
    BpfKsym k;
    k.kva = ksym.value;
    k.start = U64At(span, o.start - o.span_begin);
    k.end = U64At(span, o.end - o.span_begin);
    if (k.end < k.start || k.end - k.start > kMaxBpfKsymBytes) {
      if (bad_range++ == 0) {
        out.problems_.push_back(
            absl::StrCat("bpf_ksym at ", Hex(ksym), " has range ", Hex(k.start), "..", Hex(k.end)));
      }
      continue;
    }
    const char* name = reinterpret_cast<const char*>(span.data() + (o.name - o.span_begin));
    const void* nul = std::memchr(name, 0, o.name_len);
    size_t len = nul != nullptr ? static_cast<const char*>(nul) - name : o.name_len - 1;
    k.name_truncated = nul == nullptr;
    k.name = GuestText(absl::string_view(name, len));
    if (o.prog) k.prog = span[*o.prog - o.span_begin] != 0;
    out.ksyms_.push_back(std::move(k));
  }
  if (unreadable > 1) out.problems_.push_back(absl::StrCat(unreadable, " bpf_ksyms unreadable"));
  if (bad_range > 1) out.problems_.push_back(absl::StrCat(bad_range, " bpf_ksyms with bad ranges"));
  std::stable_sort(out.ksyms_.begin(), out.ksyms_.end(),
                   [](const BpfKsym& a, const BpfKsym& b) { return a.start < b.start; });
  return out;
}

const BpfKsym* BpfKsyms::Find(uint64_t ip) const {
  auto it = std::upper_bound(ksyms_.begin(), ksyms_.end(), ip,
                             [](uint64_t v, const BpfKsym& k) { return v < k.start; });
  if (it == ksyms_.begin()) return nullptr;
  --it;
  return ip <= it->end ? &*it : nullptr;
}

}  // namespace kfreeze

#include "core/walkers/scx/sched_state.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/guest_text.h"
#include "core/base/reasons.h"
#include "core/base/status.h"
#include "core/walkers/common/symbolize.h"
#include "core/walkers/scx/event_counters.h"

namespace kfreeze::walkers::scx {
namespace {

// A C string behind a pointer; nullopt for NULL or unreadable.
std::optional<std::string> ReadStringPtr(Reader& reader, Kva ptr_at, size_t max_len) {
  absl::StatusOr<Kva> p = reader.ReadPtr(ptr_at);
  if (!p.ok() || p->IsNull()) return std::nullopt;
  absl::StatusOr<std::vector<uint8_t>> bytes = reader.ReadBytes(*p, max_len);
  if (!bytes.ok()) {
    // The buffer may end before max_len at an unmapped page: fall back to a NUL-bounded read.
    absl::StatusOr<std::string> s = reader.ReadCString(*p, max_len);
    if (!s.ok()) return std::nullopt;
    return GuestText(*s);
  }
  auto nul = std::find(bytes->begin(), bytes->end(), 0);
  return GuestText(std::string(bytes->begin(), nul));
}

}  // namespace

absl::StatusOr<uint64_t> ReadJiffies(Reader& reader, const ScxContext& ctx) {
  if (!ctx.roots.jiffies) return absl::NotFoundError("no jiffies_64 symbol");
  return reader.ReadU64(*ctx.roots.jiffies);
}

absl::StatusOr<kfreeze::v1::ScxExitInfo> ReadExitInfo(Reader& reader, const ScxContext& ctx, Kva ei,
                                                      uint64_t dump_len) {
  if (!ctx.off.exit_info) return absl::FailedPreconditionError("no scx_exit_info offsets");
  const ExitInfoOffsets& o = *ctx.off.exit_info;
  kfreeze::v1::ScxExitInfo out;
  KF_ASSIGN_OR_RETURN(uint32_t kind, reader.ReadU32(ei + o.kind));
  out.set_kind(kind);
  if (absl::StatusOr<uint64_t> code = reader.ReadU64(ei + o.exit_code); code.ok()) {
    out.set_exit_code(static_cast<int64_t>(*code));
  }
  if (o.flags) {
    if (absl::StatusOr<uint64_t> flags = reader.ReadU64(ei + *o.flags); flags.ok()) {
      out.set_flags(*flags);
    }
  }
  if (auto s = ReadStringPtr(reader, ei + o.reason, kMaxExitReasonLen)) out.set_reason(*s);
  if (auto s = ReadStringPtr(reader, ei + o.msg, kMaxExitMsgLen)) out.set_msg(*s);

  if (dump_len == 0) dump_len = kDefaultExitDumpLen;
  if (auto s = ReadStringPtr(reader, ei + o.dump, std::min(dump_len, kMaxExitDumpLen));
      s && !s->empty()) {
    out.set_dump(*s);
  }

  absl::StatusOr<Kva> bt = reader.ReadPtr(ei + o.bt);
  absl::StatusOr<uint32_t> bt_len = reader.ReadU32(ei + o.bt_len);
  if (bt.ok() && !bt->IsNull() && bt_len.ok()) {
    uint32_t n = std::min(*bt_len, kMaxExitBacktrace);
    for (uint32_t i = 0; i < n; ++i) {
      absl::StatusOr<uint64_t> pc = reader.ReadU64(*bt + uint64_t{i} * 8);
      if (!pc.ok()) break;
      out.add_backtrace_pcs(*pc);
      std::optional<std::string> sym =
          ctx.symbols ? Symbolize(*ctx.symbols, Kva(*pc)) : std::nullopt;
      out.add_backtrace(sym.value_or(Hex(*pc)));
    }
  }
  return out;
}

uint32_t EffectiveExitKind(Reader& reader, const ScxContext& ctx, const SchedLocation& sched,
                           uint32_t raw) {
  constexpr uint32_t kScxExitDone = 1;
  if (raw != kScxExitDone || !sched.exit_info_ptr || !ctx.off.exit_info) return raw;
  absl::StatusOr<Kva> ei = reader.ReadPtr(*sched.exit_info_ptr);
  if (!ei.ok() || ei->IsNull()) return raw;
  absl::StatusOr<uint32_t> kind = reader.ReadU32(*ei + ctx.off.exit_info->kind);
  return kind.ok() && *kind > kScxExitDone ? *kind : raw;
}

absl::StatusOr<ExitKind> ReadExitKind(Reader& reader, const ScxContext& ctx,
                                      const SchedLocation& sched) {
  ExitKind out;
  KF_ASSIGN_OR_RETURN(out.raw, reader.ReadU32(sched.exit_kind));
  out.effective = EffectiveExitKind(reader, ctx, sched, out.raw);
  return out;
}

absl::Status ReadSchedState(Reader& reader, const ScxContext& ctx, const SchedLocation& sched,
                            kfreeze::v1::ScxSchedState* out) {
  out->set_sched_kva(sched.id.value);
  out->set_source(std::string(kScxSourceLive));
  KF_ASSIGN_OR_RETURN(ExitKind kind, ReadExitKind(reader, ctx, sched));
  out->set_exit_kind(kind.effective);
  if (kind.effective != kind.raw) out->set_exit_kind_raw(kind.raw);
  if (sched.aborting) {
    if (absl::StatusOr<uint8_t> v = reader.ReadU8(*sched.aborting); v.ok()) {
      out->set_aborting(*v != 0);
    }
  }
  if (sched.bypass_depth) {
    if (absl::StatusOr<int32_t> v = reader.ReadS32(*sched.bypass_depth); v.ok()) {
      out->set_bypass_depth(*v);
    }
  }
  if (sched.watchdog_timeout) {
    if (absl::StatusOr<uint64_t> v = reader.ReadU64(*sched.watchdog_timeout); v.ok()) {
      out->set_watchdog_timeout(*v);
    }
  }
  uint64_t dump_len = 0;  // ops.exit_dump_len sizes the dump buffer; 0 means the default
  if (ctx.off.ops) {
    const OpsOffsets& o = *ctx.off.ops;
    if (absl::StatusOr<std::string> name = reader.ReadCharArray(sched.ops + o.name, o.name_len);
        name.ok()) {
      out->set_ops_name(GuestText(*name));
    }
    if (o.exit_dump_len) dump_len = reader.ReadU32(sched.ops + *o.exit_dump_len).value_or(0);
  }
  if (ctx.roots.enable_state) {
    if (absl::StatusOr<int32_t> v = reader.ReadS32(*ctx.roots.enable_state); v.ok()) {
      out->set_enable_state(ctx.EnableStateName(*v).value_or(absl::StrCat("unknown(", *v, ")")));
    }
  }
  if (ctx.roots.enable_seq) {
    if (absl::StatusOr<uint64_t> v = reader.ReadU64(*ctx.roots.enable_seq); v.ok()) {
      out->set_enable_seq(*v);
    }
  }
  if (absl::StatusOr<uint64_t> j = ReadJiffies(reader, ctx); j.ok()) out->set_jiffies(*j);
  if (ctx.hz) out->set_hz(*ctx.hz);
  if (sched.exit_info_ptr) {
    absl::StatusOr<Kva> ei = reader.ReadPtr(*sched.exit_info_ptr);
    if (ei.ok() && !ei->IsNull()) {
      // A running scheduler has exit info allocated with kind SCX_EXIT_NONE: nothing to show.
      if (absl::StatusOr<kfreeze::v1::ScxExitInfo> info = ReadExitInfo(reader, ctx, *ei, dump_len);
          info.ok() && info->kind() != 0) {
        *out->mutable_exit_info() = *std::move(info);
      }
    }
  }
  if (absl::StatusOr<kfreeze::v1::EventCounterSample> ev = SumEventCounters(reader, ctx, sched);
      ev.ok()) {
    *out->mutable_event_counters() = *ev;
  }
  return absl::OkStatus();
}

}  // namespace kfreeze::walkers::scx

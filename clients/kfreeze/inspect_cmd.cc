// `kfreeze inspect`: attach to a guest's RAM file and print what was found (release, KASLR,
// paging, CPUs, symbols, BTF) plus the time each attach step took.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "clients/kfreeze/cli_options.h"
#include "clients/kfreeze/command.h"
#include "core/kernel/kernel_context.h"
#include "core/qmp/qmp_client.h"
#include "core/walkers/common/kernel_view.h"
#include "core/walkers/scx/scx_context.h"

namespace kfreeze::cli {
namespace {

struct InspectArgs {
  GuestFlags guest;
  int ram_fd = -1;
  std::string system_map;
  std::string vmlinux;
  std::vector<std::string> symbols;
  std::string dump_btf;
  bool json = false;
};

struct Resolved {
  std::string name;
  Kva address;
};

// What the kernel's sched_ext has (layout era, counters, fields it lacks), as the walkers see it.
nlohmann::json Features(const KernelContext& k) {
  if (k.offsets() == nullptr) return nullptr;
  walkers::KernelView view{*k.offsets(), k.symbols(), k.percpu()};
  Reader reader = k.NewReader();
  const walkers::scx::ScxContext scx = walkers::scx::BuildScxContext(view, reader);
  std::string json;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  if (!google::protobuf::util::MessageToJsonString(scx.features, &json, opts).ok()) {
    return nullptr;
  }
  nlohmann::json f = nlohmann::json::parse(json);
  f["scx_root"] = scx.layout == walkers::scx::ScxLayout::kScxRoot;
  f["missing_offset_groups"] = scx.off.report.missing();
  return f;
}

nlohmann::json ToJson(const KernelContext& k, const std::vector<Resolved>& symbols) {
  nlohmann::json j;
  j["release"] = k.release();
  j["kaslr_offset"] = Hex(k.kaslr_offset());
  j["arch"] = GuestArchName(k.arch());
  j["paging"] = k.translator().config().format->Describe();
  if (k.arch() == GuestArch::kArm64) {
    const Arm64VmcoreInfo& a = k.vmcoreinfo().arm64;
    j["arm64"] = {{"va_bits", a.va_bits},
                  {"walk_va_bits", a.WalkVaBits()},
                  {"page_size", k.vmcoreinfo().page_size},
                  {"kimage_voffset", Hex(a.kimage_voffset)},
                  {"phys_offset", Hex(a.phys_offset)},
                  {"pac_mask", Hex(a.pac_mask)}};
    j["linear_map_base"] = Hex(k.translator().config().direct_map.va_start);
  } else {
    j["phys_base"] = Hex(k.phys_base());
    j["page_offset_base"] = Hex(k.page_offset_base());
  }
  j["pgtable_levels"] = k.pgtable_levels();
  j["nr_cpus"] = k.percpu().PossibleCpus().size();
  nlohmann::json offsets = nlohmann::json::array();
  for (CpuId cpu : k.percpu().PossibleCpus()) offsets.push_back(Hex(k.percpu().offsets()[cpu]));
  j["per_cpu_offsets"] = offsets;
  j["symbol_count"] = k.symbols().size();
  j["btf_type_count"] = k.btf()->type_count();
  nlohmann::json syms = nlohmann::json::object();
  for (const Resolved& r : symbols) syms[r.name] = Hex(r.address);
  j["symbols"] = syms;
  nlohmann::json us = nlohmann::json::object();
  for (const StepTiming& t : k.attach_timings()) us[t.step] = absl::ToInt64Microseconds(t.elapsed);
  us["total"] = absl::ToInt64Microseconds(k.attach_total());
  j["attach_us"] = us;
  j["features"] = Features(k);
  return j;
}

void PrintText(const KernelContext& k, const std::vector<Resolved>& symbols) {
  const PerCpuLayout& pc = k.percpu();
  const PagingConfig& paging = k.translator().config();
  std::string out = absl::StrFormat("kernel release    %s (%s)\nkaslr slide       %s\n",
                                    k.release(), GuestArchName(k.arch()), Hex(k.kaslr_offset()));
  if (k.arch() == GuestArch::kArm64) {
    const Arm64VmcoreInfo& a = k.vmcoreinfo().arm64;
    absl::StrAppendFormat(&out,
                          "kimage_voffset    %s\nPHYS_OFFSET       %s\nlinear map        %s\n"
                          "VA_BITS           %d (walks %d)\npac mask          %s\n",
                          Hex(a.kimage_voffset), Hex(a.phys_offset),
                          Hex(paging.direct_map.va_start), a.va_bits, a.WalkVaBits(),
                          Hex(a.pac_mask));
  } else {
    absl::StrAppendFormat(&out, "phys_base         %s\npage_offset_base  %s\n", Hex(k.phys_base()),
                          Hex(k.page_offset_base()));
  }
  absl::StrAppendFormat(&out,
                        "paging            %s\nram layout        %s (%s)\n"
                        "vmcoreinfo        note at %s\n",
                        paging.format->Describe(), k.layout_source(), k.ram().layout().ToString(),
                        Hex(k.vmcoreinfo().note_pa));
  absl::StrAppendFormat(&out, "cpus              %d possible (nr_cpu_ids %d%s)\n",
                        pc.PossibleCpus().size(), pc.nr_cpu_ids(),
                        pc.online_count() ? absl::StrCat(", ", *pc.online_count(), " online") : "");
  for (CpuId cpu : pc.PossibleCpus()) {
    absl::StrAppendFormat(&out, "  cpu %-4d        per-cpu offset %s\n", cpu,
                          Hex(pc.offsets()[cpu]));
  }
  absl::StrAppendFormat(&out, "symbols           %d (kallsyms, %s encoding)\n", k.symbols().size(),
                        KallsymsEncodingName(k.kallsyms_encoding()));
  absl::StrAppendFormat(&out, "btf               %d types, %d bytes from %s\n",
                        k.btf()->type_count(), k.btf()->raw().size(), k.btf()->source());
  if (k.host_symbol_check()) {
    absl::StrAppendFormat(&out, "host symbols      %d compared with %s, all equal\n",
                          k.host_symbol_check()->compared, k.host_symbol_check()->source);
  }
  for (const Resolved& r : symbols)
    absl::StrAppendFormat(&out, "symbol %-10s %s\n", r.name, Hex(r.address));
  out += "attach steps     ";
  for (const StepTiming& t : k.attach_timings()) {
    absl::StrAppendFormat(&out, " %s %.2fms", t.step, absl::ToDoubleMilliseconds(t.elapsed));
  }
  absl::StrAppendFormat(&out, "\nattach total      %.2f ms\n",
                        absl::ToDoubleMilliseconds(k.attach_total()));
  std::fputs(out.c_str(), stdout);
}

int RunInspect(const InspectArgs& a) {
  AttachOptions options;
  options.ram_path = a.guest.ram;
  options.ram_fd = a.ram_fd;
  if (options.ram_path.empty() && options.ram_fd < 0)
    return Fail(kExitInvalidInput, "inspect: --ram FILE is required");
  if (!a.guest.qmp.empty()) {
    options.memory_tree = [socket = a.guest.qmp] { return FetchMemoryTree(socket); };
  }
  options.ram_layout = a.guest.ram_layout;
  options.btf_path = a.guest.btf;
  options.system_map_path = a.system_map;
  options.vmlinux_path = a.vmlinux;

  absl::StatusOr<std::shared_ptr<const KernelContext>> ctx = KernelContext::Attach(options);
  if (!ctx.ok())
    return Fail(kExitFailure, absl::StrCat("attach failed: ", ctx.status().ToString()));
  const KernelContext& k = **ctx;
  if (k.btf() == nullptr)
    return Fail(kExitFailure, absl::StrCat("no vmlinux BTF: ", k.btf_status().ToString()));

  std::vector<Resolved> symbols;
  for (const std::string& name : a.symbols) {
    absl::StatusOr<Kva> kva = k.symbols().Require(name);
    if (!kva.ok()) return Fail(kExitFailure, kva.status().message());
    symbols.push_back({name, *kva});
  }
  if (const std::string& path = a.dump_btf; !path.empty()) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(k.btf()->raw().data()),
              static_cast<std::streamsize>(k.btf()->raw().size()));
    if (!out) return Fail(kExitFailure, absl::StrCat("cannot write ", path));
  }
  if (a.json) {
    std::printf(
        "%s\n",
        ToJson(k, symbols).dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    PrintText(k, symbols);
  }
  return kExitOk;
}

RunFn SetupInspect(CLI::App& app, const DaemonFlags& /*daemon*/) {
  auto a = std::make_shared<InspectArgs>();
  AddGuestFlags(app, a->guest);
  AddValueFlag(app, "--ram-fd", a->ram_fd, "guest RAM as an inherited file descriptor (memfd)");
  AddValueFlag(app, "--system-map", a->system_map, "System.map to cross-check guest symbols");
  AddValueFlag(app, "--vmlinux", a->vmlinux,
               "vmlinux ELF whose .symtab cross-checks guest symbols");
  app.add_option("--symbol", a->symbols, "print this symbol's address (repeatable, or a,b,c)")
      ->delimiter(',')
      ->allow_extra_args(false);
  AddValueFlag(app, "--dump-btf", a->dump_btf, "write the vmlinux BTF read from the guest to FILE");
  AddJsonFlag(app, a->json);
  return [a] { return RunInspect(*a); };
}

const bool registered = RegisterCommand(
    {"inspect",
     "attach to a guest's RAM and print what was found (release, KASLR, paging, CPUs, symbols, "
     "BTF) and the time each attach step took",
     &SetupInspect});

}  // namespace
}  // namespace kfreeze::cli

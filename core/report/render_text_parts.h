// The text renderer's per-section pieces, shared by render_text*.cc and render_kernel_style*.cc.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>
#include "absl/strings/string_view.h"

#include "kfreeze/v1/report.pb.h"

namespace kfreeze::report::text {

// Lists longer than this are cut in the text (the JSON keeps everything).
inline constexpr int kMaxListedItems = 64;
inline constexpr int kMaxListedPcs = 8;
// A guest string longer than this is cut in the text.
inline constexpr size_t kMaxSymbolChars = 200;
// Deeper than any real kernel stack (16 KiB); a longer one is a corrupt unwind.
inline constexpr int kMaxFramesShown = 48;

// How a dual report's two captures are headed, in both text styles.
inline constexpr absl::string_view kEarlyHeading =
    "=== early snapshot (sched_ext watchdog half-way) ===";
inline constexpr absl::string_view kLateHeading = "=== late snapshot (error-exit) ===";
inline constexpr absl::string_view kDegradedPartialHeading = "=== collected before the failure ===";

// "section: <unavailable: reason>\n" when `has`; the one spelling of a reason in the text.
void AppendReason(std::string* out, absl::string_view section, bool has, const std::string& reason);

// A guest string on one line: control bytes would break the line layout, so each becomes '?';
// longer than `max_bytes` it is cut (on a UTF-8 character boundary) and ends in "...".
std::string OneLine(const std::string& s, size_t max_bytes = kMaxSymbolChars);

// render_text_tasks.cc
// A frame as the kernel's %pS prints it: the symbol, or the address when none covers it.
std::string FrameSymbol(const kfreeze::v1::StackFrame& f);
// "comm[pid]", as the kernel's dumps name a task.
std::string TaskLabel(const kfreeze::v1::TaskEnrichment& t);
// The captured tasks by task_struct address, the key rq and DSQ lists hold.
using TasksByKva = std::unordered_map<uint64_t, const kfreeze::v1::TaskEnrichment*>;
TasksByKva IndexTasksByKva(const kfreeze::v1::FailureDumpReport& r);

// render_text_maps.cc
void RenderMap(const kfreeze::v1::FailureDumpMap& m, std::string* out);
void RenderMaps(const kfreeze::v1::FailureDumpReport& r, std::string* out);

// render_text_scx.cc: the scheduler's exit first, then the scheduler, runqueues and DSQs.
// False for a field this kernel lacks (scx_features.absent_fields, "message.field").
bool KernelHas(const kfreeze::v1::FailureDumpReport& r, absl::string_view field);
// The SCX_EV_* counters of `s` the kernel has, in the kernel's order, by their field names.
std::vector<std::pair<std::string, int64_t>> EventCounters(const kfreeze::v1::EventCounterSample& s,
                                                           const kfreeze::v1::FailureDumpReport& r);
void RenderScxExit(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderScxSched(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderRunqueues(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderDsqs(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderScxEvents(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderEventTimeline(const kfreeze::v1::FailureDumpReport& r, std::string* out);

// render_kernel_style_cpus.cc: "CPU states" as the kernel's sched_ext dump prints it.
void AppendKernelCpuStates(const kfreeze::v1::FailureDumpReport& r, std::string* out);

// render_text_tasks.cc: the task table, tasks that matter first, each with its kernel stack.
void RenderTasks(const kfreeze::v1::FailureDumpReport& r, std::string* out);

// render_text_sections.cc
// QEMU `info registers` style, a few lines each prefixed with `indent`.
void AppendX86Registers(const kfreeze::v1::X86Registers& x, absl::string_view indent,
                        std::string* out);
void AppendArm64Registers(const kfreeze::v1::Arm64Registers& a, absl::string_view indent,
                          std::string* out);
// The vCPU's register file, whichever architecture it has (nothing when it has none).
void AppendRegisterFile(const kfreeze::v1::VcpuRegSnapshot& v, absl::string_view indent,
                        std::string* out);
// " ptroot=0x..." unless the snapshot has none to show (arm64 from HMP: no TTBR).
std::string PageTableRootText(const kfreeze::v1::VcpuRegSnapshot& v);
void RenderVcpuRegs(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderArenaAllocators(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderProgStats(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderCpuTime(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderPsi(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderNuma(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderVcpuPerf(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderProbeCounters(const kfreeze::v1::FailureDumpReport& r, std::string* out);

}  // namespace kfreeze::report::text

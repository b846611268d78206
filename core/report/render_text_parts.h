// The text renderer's per-section pieces, shared by render_text*.cc only.
#pragma once

#include <string>
#include "absl/strings/string_view.h"

#include "kfreeze/v1/report.pb.h"

namespace kfreeze::report::text {

// Lists longer than this are cut in the text (the JSON keeps everything).
inline constexpr int kMaxListedItems = 64;
inline constexpr int kMaxListedPcs = 8;

// "section: <unavailable: reason>\n" when `has`; the one spelling of a reason in the text.
void AppendReason(std::string* out, absl::string_view section, bool has, const std::string& reason);

// render_text_maps.cc
void RenderMap(const kfreeze::v1::FailureDumpMap& m, std::string* out);

// render_text_scx.cc
void RenderScx(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderEventTimeline(const kfreeze::v1::FailureDumpReport& r, std::string* out);

// render_text_tasks.cc: the task table, tasks that matter first, each with its kernel stack.
void RenderTasks(const kfreeze::v1::FailureDumpReport& r, std::string* out);

// render_text_sections.cc
// QEMU `info registers` style, a few lines each prefixed with `indent`.
void AppendX86Registers(const kfreeze::v1::X86Registers& x, absl::string_view indent,
                        std::string* out);
void RenderVcpuRegs(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderArenaAllocators(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderProgStats(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderCpuTime(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderPsi(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderNuma(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderVcpuPerf(const kfreeze::v1::FailureDumpReport& r, std::string* out);
void RenderProbeCounters(const kfreeze::v1::FailureDumpReport& r, std::string* out);

}  // namespace kfreeze::report::text

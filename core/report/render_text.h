// Text rendering of reports for people (`kfreeze report show`, `kfreeze freeze`).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "kfreeze/v1/report.pb.h"

namespace kfreeze::report {

// ktstr's render_sparkline: 8 glyphs, min-max integer scaling; constant zero -> lowest glyph,
// constant non-zero -> middle glyph; empty -> "".
std::string RenderSparkline(std::span<const uint64_t> values);
// The i64 variant clamps negatives to 0.
std::string RenderSparklineI64(std::span<const int64_t> values);

std::string RenderValueText(const kfreeze::v1::RenderedValue& value, int indent = 0);
std::string RenderSingleText(const kfreeze::v1::FailureDumpReport& report);
std::string RenderDualText(const kfreeze::v1::DualFailureDumpReport& report);
std::string RenderDegradedText(const kfreeze::v1::DegradedFailureDumpReport& report);
// How `kfreeze report show` lays a report out: kfreeze's sections, what a stall is about first
// (kDefault), or the layout of the kernel's own sched_ext dump (kKernel, render_kernel_style.h).
enum class TextStyle { kDefault, kKernel };

// Envelope header (target, id, trigger, timings, labels) followed by the report it holds.
std::string RenderEnvelopeText(const kfreeze::v1::DumpEnvelope& envelope,
                               TextStyle style = TextStyle::kDefault);

// One line: "schema=single maps=12 tasks=40 cpus=2 ...".
std::string SummaryLine(const kfreeze::v1::DumpEnvelope& any);

}  // namespace kfreeze::report

// The summary row of a dump (ListDumps, WatchDumps summary_only, the archive index).
#pragma once

#include <cstdint>
#include <string>

#include "kfreeze/v1/archive.pb.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::server {

// `size_bytes` is the envelope's binary size; `seq` its archive order.
kfreeze::v1::DumpSummary MakeSummary(const kfreeze::v1::DumpEnvelope& envelope, uint64_t size_bytes,
                                     uint64_t seq);

// "single" | "dual" | "degraded" | "".
std::string SchemaName(const kfreeze::v1::DumpEnvelope& envelope);

// Every label in `want` is present in `have` with the same value.
bool LabelsMatch(const google::protobuf::Map<std::string, std::string>& have,
                 const google::protobuf::Map<std::string, std::string>& want);

}  // namespace kfreeze::server

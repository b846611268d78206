// Reads a dump in any format `kfreeze dump` writes (report JSON of either dialect, envelope JSON,
// binary envelope) and lists the report sections that are neither filled nor explained by their
// *_unavailable reason. Exit 0: every section accounted for; 1: some are not; 2: unreadable input.
#include <cstdio>
#include <string>

#include "core/report/report_io.h"
#include "core/report/section_coverage.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DUMP_FILE|-\n", argv[0]);
    return 2;
  }
  absl::StatusOr<std::string> bytes = kfreeze::report::ReadFileOrStdin(argv[1]);
  if (!bytes.ok()) {
    std::fprintf(stderr, "%s\n", std::string(bytes.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<kfreeze::report::LoadedDump> dump = kfreeze::report::LoadDump(*bytes);
  if (!dump.ok()) {
    std::fprintf(stderr, "%s\n", std::string(dump.status().message()).c_str());
    return 2;
  }
  const auto missing = kfreeze::report::UnaccountedSectionsInEnvelope(dump->envelope);
  for (const auto& s : missing) std::printf("%s: %s\n", s.path.c_str(), s.why.c_str());
  if (!missing.empty()) return 1;
  std::printf("every section filled or explained\n");
  return 0;
}

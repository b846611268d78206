// A dump's map entries for a browser: the dump page loads the report without them (view=page)
// and pages through one map at a time, searched on the server. A 100,000-entry map is 180 MB of
// proto3 JSON; as one-line key/value text it is a few MB, rendered once and kept for the pages.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::server::http {

// Clears what the dump page pages through: every map's entries of every kind, in every report
// of the envelope (the maps themselves, their counts and errors stay).
void StripMapEntries(kfreeze::v1::DumpEnvelope& envelope);

struct MapRows {
  std::vector<std::string> keys;
  std::vector<std::string> values;
  std::vector<bool> changed;  // dual report, late capture: the value differs from the early one
};

// The rows of map `name` in `capture` ("late", "early", or "" for a single or degraded report),
// each key and value rendered as one line of text. NotFound for an absent capture or map.
absl::StatusOr<MapRows> RenderMapRows(const kfreeze::v1::DumpEnvelope& envelope,
                                      const std::string& capture, const std::string& name);

// The rows last asked for, kept for the next page (one map of one dump: bounded).
class MapRowCache {
 public:
  using Loader = std::function<absl::StatusOr<kfreeze::v1::DumpEnvelope>()>;
  absl::StatusOr<std::shared_ptr<const MapRows>> Get(const std::string& dump_id,
                                                     const std::string& capture,
                                                     const std::string& name, const Loader& load);

 private:
  absl::Mutex mu_;
  std::string key_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const MapRows> rows_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kfreeze::server::http

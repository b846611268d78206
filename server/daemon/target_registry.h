// The targets the daemon knows, by name. Closed at shutdown: no target is added afterwards.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/daemon/freeze_target.h"

namespace kfreeze::server {

class TargetRegistry {
 public:
  // Registers `target`; returns the one it replaced (null when none). ALREADY_EXISTS unless
  // `replace`, UNAVAILABLE once closed.
  absl::StatusOr<std::shared_ptr<FreezeTarget>> Add(std::shared_ptr<FreezeTarget> target,
                                                    bool replace);
  // Forgets the target and hands it back (null when unknown).
  std::shared_ptr<FreezeTarget> Remove(const std::string& name);
  std::shared_ptr<FreezeTarget> Find(const std::string& name) const;
  std::vector<std::shared_ptr<FreezeTarget>> All() const;
  // Checked with every Add under the same lock, so no Add succeeds after Close returned.
  void Close();

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<FreezeTarget>> targets_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace kfreeze::server

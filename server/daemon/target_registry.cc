#include "server/daemon/target_registry.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace kfreeze::server {

absl::StatusOr<std::shared_ptr<FreezeTarget>> TargetRegistry::Add(
    std::shared_ptr<FreezeTarget> target, bool replace) {
  const std::string& name = target->config.name();
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::UnavailableError("daemon is shutting down");
  std::shared_ptr<FreezeTarget> old;
  auto it = targets_.find(name);
  if (it != targets_.end()) {
    if (!replace) return absl::AlreadyExistsError(absl::StrCat("target ", name, " exists"));
    old = it->second;
  }
  targets_[name] = std::move(target);
  return old;
}

std::shared_ptr<FreezeTarget> TargetRegistry::Remove(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = targets_.find(name);
  if (it == targets_.end()) return nullptr;
  std::shared_ptr<FreezeTarget> target = std::move(it->second);
  targets_.erase(it);
  return target;
}

std::shared_ptr<FreezeTarget> TargetRegistry::Find(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = targets_.find(name);
  return it == targets_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<FreezeTarget>> TargetRegistry::All() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<FreezeTarget>> all;
  all.reserve(targets_.size());
  for (const auto& [name, t] : targets_) all.push_back(t);
  return all;
}

void TargetRegistry::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

}  // namespace kfreeze::server

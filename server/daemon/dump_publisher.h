// Publishing a dump: archive it (which assigns its dump_id), then stream it to WatchDumps.
#pragma once

#include "absl/status/statusor.h"
#include "kfreeze/v1/service.pb.h"
#include "server/daemon/archive.h"
#include "server/daemon/dump_bus.h"

namespace kfreeze::server {

class DumpPublisher {
 public:
  DumpPublisher(DumpArchive* archive, DumpBus* bus) : archive_(archive), bus_(bus) {}
  // Not streamed when archiving failed: watchers only see dumps they can fetch.
  absl::StatusOr<kfreeze::v1::DumpSummary> Publish(kfreeze::v1::DumpEnvelope& envelope) {
    absl::StatusOr<kfreeze::v1::DumpSummary> stored = archive_->Store(envelope);
    if (!stored.ok()) return stored.status();
    bus_->Publish(*stored, envelope);
    return stored;
  }

 private:
  DumpArchive* const archive_;
  DumpBus* const bus_;
};

}  // namespace kfreeze::server

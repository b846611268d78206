#include "server/http/map_pages.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/report/envelope_captures.h"
#include "core/report/render_text.h"

namespace kfreeze::server::http {
namespace {

using kfreeze::v1::DumpEnvelope;
using kfreeze::v1::FailureDumpMap;
using kfreeze::v1::FailureDumpReport;

// One line: the renderer's indentation folded into single spaces.
std::string OneLine(const kfreeze::v1::RenderedValue& v) {
  std::string text = report::RenderValueText(v);
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::string Hex(const std::string& bytes) {
  std::string out;
  static const char kDigits[] = "0123456789abcdef";
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

const FailureDumpMap* FindMap(const FailureDumpReport& r, const std::string& name) {
  for (const FailureDumpMap& m : r.maps()) {
    if (m.name() == name) return &m;
  }
  return nullptr;
}

}  // namespace

void StripMapEntries(DumpEnvelope& e) {
  for (FailureDumpReport* r : report::MutableCaptures(e)) {
    for (FailureDumpMap& m : *r->mutable_maps()) {
      m.clear_entries();
      m.clear_array_entries();
      m.clear_percpu_entries();
      m.clear_percpu_hash_entries();
    }
  }
}

absl::StatusOr<MapRows> RenderMapRows(const DumpEnvelope& envelope, const std::string& capture,
                                      const std::string& name) {
  const FailureDumpReport* r = report::FindCapture(envelope, capture);
  if (r == nullptr) return absl::NotFoundError(absl::StrCat("the dump has no capture ", capture));
  const FailureDumpMap* m = FindMap(*r, name);
  if (m == nullptr) return absl::NotFoundError(absl::StrCat("the capture has no map ", name));
  // Early values by key, to mark what a dual report's late capture changed.
  absl::flat_hash_map<std::string, std::string> early;
  if (envelope.has_dual() && capture != "early" && envelope.dual().has_early()) {
    if (const FailureDumpMap* e = FindMap(envelope.dual().early(), name)) {
      for (const auto& entry : e->entries()) early[entry.key_hex()] = entry.value_hex();
    }
  }
  MapRows rows;
  auto add = [&rows](std::string key, std::string value, bool changed) {
    rows.keys.push_back(std::move(key));
    rows.values.push_back(std::move(value));
    rows.changed.push_back(changed);
  };
  for (const auto& entry : m->entries()) {
    auto before = early.find(entry.key_hex());
    add(entry.has_key() ? OneLine(entry.key()) : Hex(entry.key_hex()),
        entry.has_value() ? OneLine(entry.value()) : Hex(entry.value_hex()),
        before != early.end() && before->second != entry.value_hex());
  }
  for (const auto& entry : m->array_entries()) {
    add(absl::StrCat(entry.key()), entry.has_value() ? OneLine(entry.value()) : "", false);
  }
  auto per_cpu = [](const auto& values) {
    std::string out;
    for (int cpu = 0; cpu < values.size(); ++cpu) {
      absl::StrAppend(&out, cpu == 0 ? "" : " | ", "cpu", cpu, ": ",
                      values[cpu].has_value() ? OneLine(values[cpu].value()) : "-");
    }
    return out;
  };
  for (const auto& entry : m->percpu_entries()) {
    add(absl::StrCat(entry.key()), per_cpu(entry.per_cpu()), false);
  }
  for (const auto& entry : m->percpu_hash_entries()) {
    add(entry.has_key() ? OneLine(entry.key()) : Hex(entry.key_hex()), per_cpu(entry.per_cpu()),
        false);
  }
  return rows;
}

absl::StatusOr<std::shared_ptr<const MapRows>> MapRowCache::Get(const std::string& dump_id,
                                                                const std::string& capture,
                                                                const std::string& name,
                                                                const Loader& load) {
  const std::string key = absl::StrCat(dump_id, "\n", capture, "\n", name);
  {
    absl::MutexLock lock(&mu_);
    if (rows_ && key_ == key) return rows_;
  }
  absl::StatusOr<DumpEnvelope> envelope = load();
  if (!envelope.ok()) return envelope.status();
  absl::StatusOr<MapRows> rows = RenderMapRows(*envelope, capture, name);
  if (!rows.ok()) return rows.status();
  auto shared = std::make_shared<const MapRows>(std::move(*rows));
  absl::MutexLock lock(&mu_);
  key_ = key;
  rows_ = shared;
  return shared;
}

}  // namespace kfreeze::server::http

#include "fleet/headers.h"

#include <algorithm>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kfreeze::fleet {

std::string HeaderValue(absl::string_view value) {
  constexpr size_t kMaxHeaderValue = 1024;
  std::string out;
  out.reserve(std::min(value.size(), kMaxHeaderValue));
  for (char c : value.substr(0, kMaxHeaderValue)) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(b >= 0x20 && b < 0x7f ? c : '?');
  }
  return out;
}

natsStatus SetStatusHeaders(natsMsg* msg, const absl::Status& status) {
  const std::string code = absl::StrCat(static_cast<int>(status.code()));
  const std::string message = HeaderValue(status.message());
  const std::string name = absl::StatusCodeToString(status.code());
  natsStatus s = natsMsgHeader_Set(msg, kServiceErrorCodeHeader, code.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, kServiceErrorHeader, message.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, kStatusHeader, name.c_str());
  return s;
}

const char* HeaderOr(natsMsg* msg, const char* key, const char* fallback) {
  const char* v = nullptr;
  if (natsMsgHeader_Get(msg, key, &v) != NATS_OK || v == nullptr) return fallback;
  return v;
}

absl::Status StatusFromHeaders(natsMsg* msg) {
  const char* code_text = nullptr;
  if (natsMsgHeader_Get(msg, kServiceErrorCodeHeader, &code_text) != NATS_OK ||
      code_text == nullptr) {
    return absl::OkStatus();
  }
  int code = 0;
  if (!absl::SimpleAtoi(code_text, &code) || code <= 0 || code > 16) {
    code = static_cast<int>(absl::StatusCode::kUnknown);
  }
  return absl::Status(static_cast<absl::StatusCode>(code), HeaderOr(msg, kServiceErrorHeader));
}

}  // namespace kfreeze::fleet

// Descriptor-driven ktstr JSON writer and reader. The only per-field knowledge lives in the
// (kfreeze.v1.ktstr) / (kfreeze.v1.ktstr_message) options of the .proto files.
#include "core/report/ktstr_json.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "core/report/raw_hex.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"
#include "kfreeze/v1/ktstr_options.pb.h"

namespace kfreeze::report {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::OneofDescriptor;
using google::protobuf::Reflection;
using kfreeze::v1::KtstrBytes;
using kfreeze::v1::KtstrField;
using kfreeze::v1::KtstrMessage;

const KtstrField& FieldOpts(const FieldDescriptor* f) {
  return f->options().GetExtension(kfreeze::v1::ktstr);
}

const KtstrMessage& MessageOpts(const Descriptor* d) {
  return d->options().GetExtension(kfreeze::v1::ktstr_message);
}

bool IsTimestamp(const Descriptor* d) {
  return d->full_name() == google::protobuf::Timestamp::descriptor()->full_name();
}

// proto3 JSON spells non-finite doubles as strings; JSON itself has no token for them.
OrderedJson DoubleToJson(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}

OrderedJson BytesToJson(const std::string& bytes, KtstrBytes mode) {
  if (mode == kfreeze::v1::KTSTR_BYTES_INT_ARRAY) {
    OrderedJson out = OrderedJson::array();
    for (unsigned char c : bytes) out.push_back(static_cast<unsigned>(c));
    return out;
  }
  return RawHex(bytes);
}

// ---------------------------------------------------------------------------------------------
// Writer.

bool IsRequired(const FieldDescriptor* f);

OrderedJson MessageToJson(const Message& m);

OrderedJson ScalarToJson(const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f);
    case FieldDescriptor::CPPTYPE_INT64:
      return rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f);
    case FieldDescriptor::CPPTYPE_UINT32:
      return rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f);
    case FieldDescriptor::CPPTYPE_UINT64:
      return rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return DoubleToJson(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return DoubleToJson(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f);
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* v = rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f);
      return v->name();
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string s = rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
      if (f->type() == FieldDescriptor::TYPE_BYTES) return BytesToJson(s, FieldOpts(f).bytes());
      return s;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& sub = rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f);
      if (MessageOpts(sub.GetDescriptor()).nullable_wrapper()) {
        const FieldDescriptor* inner = sub.GetDescriptor()->field(0);
        if (!sub.GetReflection()->HasField(sub, inner)) return nullptr;
        return MessageToJson(sub.GetReflection()->GetMessage(sub, inner));
      }
      return MessageToJson(sub);
    }
  }
  return nullptr;
}

bool IsDefaultScalar(const Message& m, const FieldDescriptor* f) {
  const Reflection* r = m.GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return r->GetInt32(m, f) == 0;
    case FieldDescriptor::CPPTYPE_INT64:
      return r->GetInt64(m, f) == 0;
    case FieldDescriptor::CPPTYPE_UINT32:
      return r->GetUInt32(m, f) == 0;
    case FieldDescriptor::CPPTYPE_UINT64:
      return r->GetUInt64(m, f) == 0;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return r->GetDouble(m, f) == 0;
    case FieldDescriptor::CPPTYPE_FLOAT:
      return r->GetFloat(m, f) == 0;
    case FieldDescriptor::CPPTYPE_BOOL:
      return !r->GetBool(m, f);
    case FieldDescriptor::CPPTYPE_ENUM:
      return r->GetEnumValue(m, f) == 0;
    case FieldDescriptor::CPPTYPE_STRING:
      return r->GetString(m, f).empty();
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return !r->HasField(m, f);
  }
  return false;
}

void AppendField(const Message& m, const FieldDescriptor* f, OrderedJson* out) {
  const Reflection* r = m.GetReflection();
  const KtstrField& opts = FieldOpts(f);
  if (f->is_map()) {
    // map<string, string> (labels): a JSON object.
    const int n = r->FieldSize(m, f);
    if (n == 0 && !opts.always()) return;
    OrderedJson obj = OrderedJson::object();
    for (int i = 0; i < n; ++i) {
      const Message& entry = r->GetRepeatedMessage(m, f, i);
      const Descriptor* ed = entry.GetDescriptor();
      obj[entry.GetReflection()->GetString(entry, ed->field(0))] =
          ScalarToJson(entry, ed->field(1), -1);
    }
    (*out)[f->name()] = std::move(obj);
    return;
  }
  if (f->is_repeated()) {
    const int n = r->FieldSize(m, f);
    if (n == 0 && !opts.always()) return;
    OrderedJson arr = OrderedJson::array();
    for (int i = 0; i < n; ++i) arr.push_back(ScalarToJson(m, f, i));
    (*out)[f->name()] = std::move(arr);
    return;
  }
  if (f->has_presence()) {
    if (!r->HasField(m, f)) {
      if (opts.null_if_absent()) {
        (*out)[f->name()] = nullptr;
      } else if (IsRequired(f)) {
        // serde has no default for it: emit the empty message so the output still parses.
        (*out)[f->name()] = MessageToJson(r->GetMessage(m, f));
      }
      return;
    }
  } else if (opts.omit_zero() && IsDefaultScalar(m, f)) {
    return;
  }
  (*out)[f->name()] = ScalarToJson(m, f, -1);
}

OrderedJson MessageToJson(const Message& m) {
  const Descriptor* d = m.GetDescriptor();
  if (IsTimestamp(d)) {
    return google::protobuf::util::TimeUtil::ToString(
        static_cast<const google::protobuf::Timestamp&>(m));
  }
  OrderedJson out = OrderedJson::object();
  const std::string& tag = MessageOpts(d).tagged_oneof();
  if (!tag.empty()) {
    const OneofDescriptor* oneof = d->FindOneofByName(tag);
    const FieldDescriptor* set =
        oneof ? m.GetReflection()->GetOneofFieldDescriptor(m, oneof) : nullptr;
    if (set == nullptr) {
      out[tag] = "unsupported";
      out["reason"] = "unset value";
      return out;
    }
    out[tag] = set->name();
    OrderedJson body = MessageToJson(m.GetReflection()->GetMessage(m, set));
    for (auto& [k, v] : body.items()) out[k] = std::move(v);
    return out;
  }
  for (int i = 0; i < d->field_count(); ++i) AppendField(m, d->field(i), &out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reader.

std::string TypeName(const OrderedJson& j) { return j.type_name(); }

absl::Status TypeError(absl::string_view path, absl::string_view want, const OrderedJson& got) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": expected ", want, ", got ", TypeName(got)));
}

absl::StatusOr<std::string> HexToBytes(absl::string_view path, absl::string_view hex) {
  std::string out;
  if (hex.empty()) return out;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  // "aa bb cc": pairs at positions 0,3,6,... separated by exactly one space.
  if ((hex.size() + 1) % 3 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": malformed hex byte string"));
  }
  out.reserve((hex.size() + 1) / 3);
  for (size_t i = 0; i < hex.size(); i += 3) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0 || (i + 2 < hex.size() && hex[i + 2] != ' ')) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": malformed hex byte string"));
    }
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

absl::StatusOr<double> JsonToDouble(absl::string_view path, const OrderedJson& j) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
  }
  return TypeError(path, "number", j);
}

// Integers must be JSON integers within the field's range (no floats, no strings).
template <typename T>
absl::StatusOr<T> JsonToInt(absl::string_view path, const OrderedJson& j) {
  if (j.is_number_unsigned()) {
    uint64_t v = j.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": integer out of range"));
    }
    return static_cast<T>(v);
  }
  if (j.is_number_integer()) {
    int64_t v = j.get<int64_t>();
    if constexpr (std::is_unsigned_v<T>) {
      if (v < 0) return absl::InvalidArgumentError(absl::StrCat(path, ": negative unsigned"));
      if (static_cast<uint64_t>(v) > std::numeric_limits<T>::max()) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": integer out of range"));
      }
    } else if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": integer out of range"));
    }
    return static_cast<T>(v);
  }
  return TypeError(path, "integer", j);
}

// `skip_key`: the "kind" tag of an enclosing tagged oneof, read by the caller; skipping it here
// avoids copying the object (a deep copy per nesting level would make parsing quadratic).
absl::Status JsonToMessage(absl::string_view path, const OrderedJson& j, Message* m,
                           absl::string_view skip_key = {});

// Sets (index < 0) or appends one value of field f.
absl::Status SetValue(absl::string_view path, const OrderedJson& j, const FieldDescriptor* f,
                      Message* m) {
  const Reflection* r = m->GetReflection();
  const bool rep = f->is_repeated();
#define KF_SET(Type, ctype, conv)                          \
  {                                                        \
    auto v = conv;                                         \
    if (!v.ok()) return v.status();                        \
    rep ? r->Add##Type(m, f, *v) : r->Set##Type(m, f, *v); \
    return absl::OkStatus();                               \
  }
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      KF_SET(Int32, int32_t, JsonToInt<int32_t>(path, j))
    case FieldDescriptor::CPPTYPE_INT64:
      KF_SET(Int64, int64_t, JsonToInt<int64_t>(path, j))
    case FieldDescriptor::CPPTYPE_UINT32:
      KF_SET(UInt32, uint32_t, JsonToInt<uint32_t>(path, j))
    case FieldDescriptor::CPPTYPE_UINT64:
      KF_SET(UInt64, uint64_t, JsonToInt<uint64_t>(path, j))
    case FieldDescriptor::CPPTYPE_DOUBLE:
      KF_SET(Double, double, JsonToDouble(path, j))
    case FieldDescriptor::CPPTYPE_FLOAT: {
      auto v = JsonToDouble(path, j);
      if (!v.ok()) return v.status();
      rep ? r->AddFloat(m, f, static_cast<float>(*v)) : r->SetFloat(m, f, static_cast<float>(*v));
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      if (!j.is_boolean()) return TypeError(path, "boolean", j);
      rep ? r->AddBool(m, f, j.get<bool>()) : r->SetBool(m, f, j.get<bool>());
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      if (!j.is_string()) return TypeError(path, "enum name", j);
      const auto* v = f->enum_type()->FindValueByName(j.get<std::string>());
      if (v == nullptr)
        return absl::InvalidArgumentError(absl::StrCat(path, ": unknown enum value"));
      rep ? r->AddEnum(m, f, v) : r->SetEnum(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string value;
      if (f->type() == FieldDescriptor::TYPE_BYTES &&
          FieldOpts(f).bytes() == kfreeze::v1::KTSTR_BYTES_INT_ARRAY) {
        if (!j.is_array()) return TypeError(path, "array of bytes", j);
        value.reserve(j.size());
        for (const auto& b : j) {
          auto v = JsonToInt<uint8_t>(path, b);
          if (!v.ok()) return v.status();
          value.push_back(static_cast<char>(*v));
        }
      } else {
        if (!j.is_string()) return TypeError(path, "string", j);
        value = j.get<std::string>();
        if (f->type() == FieldDescriptor::TYPE_BYTES) {
          auto bytes = HexToBytes(path, value);
          if (!bytes.ok()) return bytes.status();
          value = *std::move(bytes);
        }
      }
      rep ? r->AddString(m, f, std::move(value)) : r->SetString(m, f, std::move(value));
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* sub = rep ? r->AddMessage(m, f) : r->MutableMessage(m, f);
      if (MessageOpts(sub->GetDescriptor()).nullable_wrapper()) {
        if (j.is_null()) return absl::OkStatus();
        const FieldDescriptor* inner = sub->GetDescriptor()->field(0);
        return JsonToMessage(path, j, sub->GetReflection()->MutableMessage(sub, inner));
      }
      return JsonToMessage(path, j, sub);
    }
  }
#undef KF_SET
  return absl::InternalError("unhandled field type");
}

// serde has no default for these: a ktstr document must carry them.
bool IsRequired(const FieldDescriptor* f) {
  const KtstrField& opts = FieldOpts(f);
  if (f->is_map()) return false;
  if (f->is_repeated()) return opts.always();
  if (f->has_optional_keyword() || f->real_containing_oneof() != nullptr) return false;
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) return true;
  return !opts.omit_zero();
}

absl::Status ReadField(absl::string_view path, const OrderedJson& j, const FieldDescriptor* f,
                       Message* m) {
  if (f->is_map()) {
    if (!j.is_object()) return TypeError(path, "object", j);
    const Reflection* r = m->GetReflection();
    for (const auto& [k, v] : j.items()) {
      Message* entry = r->AddMessage(m, f);
      const Descriptor* ed = entry->GetDescriptor();
      entry->GetReflection()->SetString(entry, ed->field(0), k);
      absl::Status s = SetValue(absl::StrCat(path, ".", k), v, ed->field(1), entry);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (f->is_repeated()) {
    if (!j.is_array()) return TypeError(path, "array", j);
    for (size_t i = 0; i < j.size(); ++i) {
      absl::Status s = SetValue(absl::StrCat(path, "[", i, "]"), j[i], f, m);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (j.is_null()) {
    if (f->has_presence() && !IsRequired(f)) return absl::OkStatus();  // Option::None
    return TypeError(path, "a value", j);
  }
  return SetValue(path, j, f, m);
}

absl::Status JsonToMessage(absl::string_view path, const OrderedJson& j, Message* m,
                           absl::string_view skip_key) {
  const Descriptor* d = m->GetDescriptor();
  if (IsTimestamp(d)) {
    if (!j.is_string()) return TypeError(path, "RFC 3339 timestamp", j);
    if (!google::protobuf::util::TimeUtil::FromString(
            j.get<std::string>(), static_cast<google::protobuf::Timestamp*>(m))) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": malformed timestamp"));
    }
    return absl::OkStatus();
  }
  if (!j.is_object()) return TypeError(path, "object", j);
  const std::string& tag = MessageOpts(d).tagged_oneof();
  if (!tag.empty()) {
    auto it = j.find(tag);
    if (it == j.end() || !it->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": missing \"", tag, "\" tag"));
    }
    const OneofDescriptor* oneof = d->FindOneofByName(tag);
    const FieldDescriptor* f = d->FindFieldByName(it->get<std::string>());
    if (oneof == nullptr || f == nullptr || f->containing_oneof() != oneof) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": unknown ", tag, " \"", it->get<std::string>(), "\""));
    }
    return JsonToMessage(absl::StrCat(path, "<", f->name(), ">"), j,
                         m->GetReflection()->MutableMessage(m, f), tag);
  }
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (!skip_key.empty() && f->name() == skip_key) continue;
    const std::string fpath = absl::StrCat(path, ".", f->name());
    auto it = j.find(f->name());
    if (it == j.end()) {
      if (IsRequired(f)) return absl::InvalidArgumentError(absl::StrCat(fpath, ": missing"));
      continue;
    }
    absl::Status s = ReadField(fpath, *it, f, m);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

int JsonNestingDepth(std::string_view text) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{')
      max_depth = std::max(max_depth, ++depth);
    else if (c == ']' || c == '}')
      --depth;
  }
  return max_depth;
}

OrderedJson KtstrToJson(const Message& message) { return MessageToJson(message); }

absl::Status KtstrFromJson(const OrderedJson& json, Message* message) {
  message->Clear();
  return JsonToMessage("$", json, message);
}

}  // namespace kfreeze::report

// RenderedValue -> text, in the spirit of ktstr's Display: scalars inline, zero members and
// zero array elements suppressed, short structs on one line, long ones as an indented block.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/report/render_text.h"

namespace kfreeze::report {
namespace {

using kfreeze::v1::ArrayValue;
using kfreeze::v1::RenderedValue;
using kfreeze::v1::StructValue;

// Inline struct/array form is used while it stays this short (ktstr: 120 columns).
constexpr size_t kInlineWidthBudget = 120;
// Nesting beyond this prints a marker instead of recursing (hostile or absurd reports).
constexpr int kMaxTextDepth = 64;

std::string Pad(int indent) { return std::string(static_cast<size_t>(indent) * 2, ' '); }

bool IsScalar(const RenderedValue& v) {
  switch (v.kind_case()) {
    case RenderedValue::kStruct:
    case RenderedValue::kArray:
    case RenderedValue::kTruncated:
      return false;
    case RenderedValue::kPtr:
      return !v.ptr().has_deref();
    default:
      return true;
  }
}

bool IsZero(const RenderedValue& v) {
  switch (v.kind_case()) {
    case RenderedValue::kInt:
      return v.int_().value() == 0;
    case RenderedValue::kUint:
      return v.uint().value() == 0;
    case RenderedValue::kBool:
      return !v.bool_().value();
    case RenderedValue::kChar:
      return v.char_().value() == 0;
    case RenderedValue::kFloat:
      return v.float_().value() == 0;
    case RenderedValue::kEnum:
      return v.enum_().value() == 0 && !v.enum_().has_variant();
    case RenderedValue::kPtr:
      return v.ptr().value() == 0;
    case RenderedValue::kStruct:
      for (const auto& m : v.struct_().members()) {
        if (!IsZero(m.value())) return false;
      }
      return true;
    case RenderedValue::kArray:
      for (const auto& e : v.array().elements()) {
        if (!IsZero(e)) return false;
      }
      return true;
    default:
      return false;
  }
}

std::string CharText(uint32_t c) {
  if (c >= 0x20 && c < 0x7f) return absl::StrCat("'", std::string(1, static_cast<char>(c)), "'");
  return absl::StrFormat("0x%02x", c);
}

std::string Render(const RenderedValue& v, int indent, int depth);

std::string ScalarText(const RenderedValue& v, int indent, int depth) {
  switch (v.kind_case()) {
    case RenderedValue::kInt:
      return absl::StrCat(v.int_().value());
    case RenderedValue::kUint:
      return absl::StrCat(v.uint().value());
    case RenderedValue::kBool:
      return v.bool_().value() ? "true" : "false";
    case RenderedValue::kChar:
      return CharText(v.char_().value());
    case RenderedValue::kFloat:
      return absl::StrFormat("%g", v.float_().value());
    case RenderedValue::kEnum:
      return v.enum_().has_variant()
                 ? absl::StrCat(v.enum_().variant(), " (", v.enum_().value(), ")")
                 : absl::StrCat(v.enum_().value());
    case RenderedValue::kCpuList:
      return absl::StrCat("cpus={", v.cpu_list().cpus(), "}");
    case RenderedValue::kBytes:
      return v.bytes().hex();
    case RenderedValue::kUnsupported:
      return absl::StrCat("<unsupported: ", v.unsupported().reason(), ">");
    case RenderedValue::kPtr: {
      const auto& p = v.ptr();
      std::string s = absl::StrFormat("0x%x", p.value());
      if (p.has_cast_annotation()) absl::StrAppend(&s, " (", p.cast_annotation(), ")");
      if (p.has_deref()) absl::StrAppend(&s, " → ", Render(p.deref(), indent, depth + 1));
      if (p.has_deref_skipped_reason())
        absl::StrAppend(&s, " [chase: ", p.deref_skipped_reason(), "]");
      return s;
    }
    case RenderedValue::KIND_NOT_SET:
      return "<unset>";
    default:
      return Render(v, indent, depth);
  }
}

// 8-bit arrays print as C strings when the bytes are text.
bool CharArrayText(const ArrayValue& a, std::string* out) {
  if (a.has_text()) {
    *out = absl::StrCat("\"", a.text(), "\"");
    return true;
  }
  std::string s;
  for (const auto& e : a.elements()) {
    uint64_t c;
    if (e.has_char_())
      c = e.char_().value();
    else
      return false;
    if (c == 0) break;
    if (c < 0x20 || c >= 0x7f) return false;
    s.push_back(static_cast<char>(c));
  }
  if (s.empty()) return false;
  *out = absl::StrCat("\"", s, "\"");
  return true;
}

std::string ArrayText(const ArrayValue& a, int indent, int depth) {
  std::string text;
  if (CharArrayText(a, &text)) return text;
  bool all_scalar = true;
  std::vector<std::string> parts;
  for (int i = 0; i < a.elements_size(); ++i) {
    const RenderedValue& e = a.elements(i);
    if (IsZero(e)) continue;  // sparse: zeros suppressed
    if (!IsScalar(e)) all_scalar = false;
    parts.push_back(absl::StrCat("[", i, "]=", Render(e, indent + 1, depth + 1)));
  }
  if (parts.empty()) return absl::StrCat("[all ", a.len(), " zero]");
  std::string shown = a.elements_size() < static_cast<int>(a.len())
                          ? absl::StrCat(" /* ", a.elements_size(), " of ", a.len(), " shown */")
                          : "";
  std::string line = absl::StrCat("[", absl::StrJoin(parts, ", "), "]", shown);
  if (all_scalar && line.size() <= kInlineWidthBudget) return line;
  std::string block = absl::StrCat("[", shown);
  for (const auto& p : parts) absl::StrAppend(&block, "\n", Pad(indent + 1), p);
  absl::StrAppend(&block, "\n", Pad(indent), "]");
  return block;
}

std::string StructText(const StructValue& s, int indent, int depth) {
  const std::string type = s.has_type_name() ? s.type_name() : "";
  std::vector<std::pair<std::string, std::string>> shown;
  bool all_scalar = true;
  for (const auto& m : s.members()) {
    // ktstr suppresses zero members and bpf_printk format strings.
    if (IsZero(m.value()) || m.name().find("___fmt") != std::string::npos) continue;
    if (!IsScalar(m.value())) all_scalar = false;
    shown.emplace_back(m.name().empty() ? "<anon>" : m.name(),
                       Render(m.value(), indent + 1, depth + 1));
  }
  if (shown.empty()) return absl::StrCat(type, "{}");
  std::vector<std::string> inline_parts;
  for (const auto& [n, t] : shown) inline_parts.push_back(absl::StrCat(n, "=", t));
  std::string line = absl::StrCat(type, "{", absl::StrJoin(inline_parts, ", "), "}");
  if (all_scalar && line.size() <= kInlineWidthBudget && line.find('\n') == std::string::npos) {
    return line;
  }
  std::string block = absl::StrCat(type, ":");
  for (const auto& [n, t] : shown) absl::StrAppend(&block, "\n", Pad(indent + 1), n, "=", t);
  return block;
}

std::string Render(const RenderedValue& v, int indent, int depth) {
  if (depth > kMaxTextDepth) return "<nested too deep>";
  switch (v.kind_case()) {
    case RenderedValue::kStruct:
      return StructText(v.struct_(), indent, depth);
    case RenderedValue::kArray:
      return ArrayText(v.array(), indent, depth);
    case RenderedValue::kTruncated:
      return absl::StrCat("<truncated needed=", v.truncated().needed(),
                          " had=", v.truncated().had(), "> ",
                          Render(v.truncated().partial(), indent, depth + 1));
    default:
      return ScalarText(v, indent, depth);
  }
}

}  // namespace

std::string RenderValueText(const RenderedValue& value, int indent) {
  return Render(value, indent, 0);
}

}  // namespace kfreeze::report

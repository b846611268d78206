// BtfSet: libbpf parsing, validation and the split-BTF memfd path.
#include "core/btf/btf_set.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "core/base/caps.h"
#include "core/base/safe_open.h"
#include "core/base/status.h"

namespace kfreeze {
namespace {

constexpr uint16_t kBtfMagic = 0xeb9f;
// An ELF file handed over for its .BTF section (a vmlinux with debug info is a few hundred MiB).
constexpr uint64_t kMaxBtfElfBytes = 2 * caps::kGiB;

absl::Status CheckId(uint32_t id, uint32_t count, uint32_t from, const char* what) {
  if (id >= count) {
    return BadData(absl::StrCat("BTF type ", from, ": ", what, " refers to type ", id,
                                " beyond the last id ", count - 1));
  }
  return absl::OkStatus();
}

absl::Status CheckName(const struct btf* btf, uint32_t off, uint32_t from) {
  if (btf__name_by_offset(btf, off) == nullptr) {
    return BadData(absl::StrCat("BTF type ", from, ": name offset ", off, " outside the strings"));
  }
  return absl::OkStatus();
}

absl::Status ValidateType(const struct btf* btf, uint32_t id, uint32_t count) {
  const struct btf_type* t = btf__type_by_id(btf, id);
  if (t == nullptr) return BadData(absl::StrCat("BTF type ", id, " missing"));
  KF_RETURN_IF_ERROR(CheckName(btf, t->name_off, id));
  const uint16_t vlen = btf_vlen(t);
  switch (btf_kind(t)) {
    case BTF_KIND_PTR:
    case BTF_KIND_TYPEDEF:
    case BTF_KIND_VOLATILE:
    case BTF_KIND_CONST:
    case BTF_KIND_RESTRICT:
    case BTF_KIND_FUNC:
    case BTF_KIND_VAR:
    case BTF_KIND_DECL_TAG:
    case BTF_KIND_TYPE_TAG:
    case BTF_KIND_FUNC_PROTO:
      KF_RETURN_IF_ERROR(CheckId(t->type, count, id, "type"));
      break;
    default:
      break;
  }
  if (btf_is_array(t)) {
    KF_RETURN_IF_ERROR(CheckId(btf_array(t)->type, count, id, "array element"));
    KF_RETURN_IF_ERROR(CheckId(btf_array(t)->index_type, count, id, "array index"));
  } else if (btf_is_composite(t)) {
    const struct btf_member* m = btf_members(t);
    for (uint16_t i = 0; i < vlen; ++i, ++m) {
      KF_RETURN_IF_ERROR(CheckId(m->type, count, id, "member"));
      KF_RETURN_IF_ERROR(CheckName(btf, m->name_off, id));
    }
  } else if (btf_is_func_proto(t)) {
    const struct btf_param* p = btf_params(t);
    for (uint16_t i = 0; i < vlen; ++i, ++p)
      KF_RETURN_IF_ERROR(CheckId(p->type, count, id, "param"));
  } else if (btf_is_datasec(t)) {
    const struct btf_var_secinfo* v = btf_var_secinfos(t);
    for (uint16_t i = 0; i < vlen; ++i, ++v)
      KF_RETURN_IF_ERROR(CheckId(v->type, count, id, "datasec var"));
  } else if (btf_is_enum(t)) {
    const struct btf_enum* e = btf_enum(t);
    for (uint16_t i = 0; i < vlen; ++i, ++e) KF_RETURN_IF_ERROR(CheckName(btf, e->name_off, id));
  } else if (btf_is_enum64(t)) {
    const struct btf_enum64* e = btf_enum64(t);
    for (uint16_t i = 0; i < vlen; ++i, ++e) KF_RETURN_IF_ERROR(CheckName(btf, e->name_off, id));
  }
  return absl::OkStatus();
}

absl::Status CheckHeader(std::span<const uint8_t> data, uint64_t cap) {
  if (data.size() < 24)
    return BadData(absl::StrCat("BTF blob of ", data.size(), " bytes is too short"));
  if (data.size() > cap)
    return BadData(absl::StrCat("BTF blob of ", data.size(), " bytes exceeds cap ", cap));
  uint16_t magic;
  std::memcpy(&magic, data.data(), 2);
  if (magic != kBtfMagic) return BadData(absl::StrCat("bad BTF magic ", Hex(magic)));
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateBtf(const struct btf* btf) {
  const uint32_t count = btf__type_cnt(btf);
  const struct btf* base = btf__base_btf(btf);
  const uint32_t first = base != nullptr ? btf__type_cnt(base) : 1;
  for (uint32_t id = first; id < count; ++id) KF_RETURN_IF_ERROR(ValidateType(btf, id, count));
  return absl::OkStatus();
}

absl::StatusOr<BtfPtr> ParseBtf(std::span<const uint8_t> data) {
  KF_RETURN_IF_ERROR(CheckHeader(data, caps::kMaxVmlinuxBtfBytes));
  struct btf* raw = btf__new(data.data(), static_cast<uint32_t>(data.size()));
  if (raw == nullptr) {
    return BadData(absl::StrCat("libbpf rejected BTF: ", std::strerror(errno)));
  }
  BtfPtr btf(raw);
  KF_RETURN_IF_ERROR(ValidateBtf(btf.get()));
  return btf;
}

absl::StatusOr<BtfPtr> ParseSplitBtf(std::span<const uint8_t> data, const struct btf* base) {
  KF_RETURN_IF_ERROR(CheckHeader(data, caps::kMaxProgramBtfBytes));
  int fd = memfd_create("kfreeze-split-btf", MFD_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("memfd_create: ", std::strerror(errno)));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n <= 0) {
      int err = errno;
      close(fd);
      return absl::InternalError(absl::StrCat("write memfd: ", std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  std::string path = absl::StrCat("/proc/self/fd/", fd);
  // libbpf only reads the base (it records the pointer and its type count).
  struct btf* raw = btf__parse_raw_split(path.c_str(), const_cast<struct btf*>(base));
  int err = errno;
  close(fd);
  if (raw == nullptr)
    return BadData(absl::StrCat("libbpf rejected split BTF: ", std::strerror(err)));
  BtfPtr btf(raw);
  KF_RETURN_IF_ERROR(ValidateBtf(btf.get()));
  return btf;
}

absl::StatusOr<std::unique_ptr<BtfSet>> BtfSet::FromVmlinuxBytes(std::vector<uint8_t> raw,
                                                                 std::string source) {
  KF_ASSIGN_OR_RETURN(BtfPtr btf, ParseBtf(raw));
  std::unique_ptr<BtfSet> set(new BtfSet());
  set->vmlinux_ = std::move(btf);
  set->source_ = std::move(source);
  return set;
}

std::span<const uint8_t> BtfSet::raw() const {
  uint32_t size = 0;
  // libbpf hands back the buffer it parsed from (unmodified BTF keeps it), never null then.
  const void* data = btf__raw_data(vmlinux_.get(), &size);
  if (data == nullptr) return {};
  return std::span<const uint8_t>(static_cast<const uint8_t*>(data), size);
}

absl::StatusOr<std::unique_ptr<BtfSet>> BtfSet::FromFile(const std::string& path) {
  // Non-blocking, type-checked and size-capped: a FIFO, /dev/zero or a huge file fails at once.
  KF_ASSIGN_OR_RETURN(UniqueFd fd, OpenRegularFile(path, "BTF file"));
  uint8_t magic[2] = {0, 0};
  bool raw_btf =
      pread(fd.get(), magic, sizeof(magic), 0) == 2 && magic[0] == 0x9f && magic[1] == 0xeb;
  if (raw_btf) {
    KF_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes,
                        ReadWholeFile(fd.get(), caps::kMaxVmlinuxBtfBytes, path));
    return FromVmlinuxBytes(std::move(bytes), path);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0 || static_cast<uint64_t>(st.st_size) > kMaxBtfElfBytes) {
    return absl::OutOfRangeError(
        absl::StrCat("BTF file ", path, " is larger than ", kMaxBtfElfBytes, " bytes"));
  }
  // Not raw BTF: let libbpf find a .BTF section in an ELF file. Through /proc/self/fd so libbpf
  // reads the file checked above, not whatever the path names by now.
  std::string fd_path = absl::StrCat("/proc/self/fd/", fd.get());
  struct btf* raw = btf__parse(fd_path.c_str(), nullptr);
  if (raw == nullptr) {
    return BadData(
        absl::StrCat(path, " is neither raw BTF nor an ELF with .BTF: ", std::strerror(errno)));
  }
  BtfPtr btf(raw);
  uint32_t size = 0;
  const void* data = btf__raw_data(btf.get(), &size);
  if (data == nullptr) return absl::InternalError("btf__raw_data failed");
  const uint8_t* p = static_cast<const uint8_t*>(data);
  return FromVmlinuxBytes(std::vector<uint8_t>(p, p + size), path);
}

absl::StatusOr<const struct btf*> BtfSet::AddSplit(Kva key, std::span<const uint8_t> data) {
  {
    absl::MutexLock lock(&mu_);
    auto it = splits_.find(key);
    if (it != splits_.end()) return it->second.get();
  }
  // Parse outside the lock: it can take milliseconds and another thread may be rendering.
  KF_ASSIGN_OR_RETURN(BtfPtr btf, ParseSplitBtf(data, vmlinux_.get()));
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = splits_.try_emplace(key, std::move(btf));
  return it->second.get();
}

const struct btf* BtfSet::FindSplit(Kva key) const {
  absl::MutexLock lock(&mu_);
  auto it = splits_.find(key);
  return it == splits_.end() ? nullptr : it->second.get();
}

}  // namespace kfreeze

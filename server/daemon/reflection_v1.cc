#include "server/daemon/reflection_v1.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.pb.h"

namespace kfreeze::server {
namespace {

namespace pb = google::protobuf;
using grpc::reflection::v1::ServerReflectionRequest;
using grpc::reflection::v1::ServerReflectionResponse;

// Real requests carry one protobuf name (well under 1 KiB). Bigger ones are refused before any
// lookup, and not echoed back at their size.
constexpr size_t kMaxRequestBytes = 16 << 10;

grpc::Status NotFound(const char* what) { return grpc::Status(grpc::StatusCode::NOT_FOUND, what); }

// `file` first (clients read it as the answer), then its transitive dependencies, each once.
// Bounded by the protos linked into the binary; iterative, so no recursion depth to mind.
void AddFileWithDependencies(const pb::FileDescriptor* file, ServerReflectionResponse* response) {
  auto* out = response->mutable_file_descriptor_response();
  absl::flat_hash_set<const pb::FileDescriptor*> seen;
  std::vector<const pb::FileDescriptor*> pending = {file};
  while (!pending.empty()) {
    const pb::FileDescriptor* f = pending.back();
    pending.pop_back();
    if (!seen.insert(f).second) continue;
    pb::FileDescriptorProto proto;
    f->CopyTo(&proto);
    proto.SerializeToString(out->add_file_descriptor_proto());
    // Reversed: dependencies come out in declaration order.
    for (int i = f->dependency_count() - 1; i >= 0; --i) pending.push_back(f->dependency(i));
  }
}

}  // namespace

ReflectionV1Service::ReflectionV1Service(std::vector<std::string> services)
    : services_(std::move(services)), pool_(*pb::DescriptorPool::generated_pool()) {}

grpc::Status ReflectionV1Service::ServerReflectionInfo(
    grpc::ServerContext* /*context*/,
    grpc::ServerReaderWriter<ServerReflectionResponse, ServerReflectionRequest>* stream) {
  // Each request is answered on its own: nothing accumulates over a long stream.
  ServerReflectionRequest request;
  while (stream->Read(&request)) {
    if (!stream->Write(Answer(request))) break;  // the caller went away
  }
  return grpc::Status::OK;
}

ServerReflectionResponse ReflectionV1Service::Answer(const ServerReflectionRequest& request) const {
  ServerReflectionResponse response;
  grpc::Status status;
  if (request.ByteSizeLong() > kMaxRequestBytes) {
    status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("request larger than ", kMaxRequestBytes, " bytes"));
  } else {
    response.set_valid_host(request.host());
    *response.mutable_original_request() = request;
    status = Fill(request, &response);
  }
  if (!status.ok()) {
    // In-band, as upstream: the stream stays usable for the next request.
    response.mutable_error_response()->set_error_code(status.error_code());
    response.mutable_error_response()->set_error_message(status.error_message());
  }
  return response;
}

// Caller-chosen names go to the pool as they are: it forgets its misses at each lookup (protobuf
// 3.21 clears known_bad_symbols_ on entry), so garbage names leave nothing behind.
grpc::Status ReflectionV1Service::Fill(const ServerReflectionRequest& request,
                                       ServerReflectionResponse* response) const {
  switch (request.message_request_case()) {
    case ServerReflectionRequest::kFileByFilename: {
      const pb::FileDescriptor* f = pool_.FindFileByName(request.file_by_filename());
      if (f == nullptr) return NotFound("File not found.");
      AddFileWithDependencies(f, response);
      return grpc::Status::OK;
    }
    case ServerReflectionRequest::kFileContainingSymbol: {
      const pb::FileDescriptor* f =
          pool_.FindFileContainingSymbol(request.file_containing_symbol());
      if (f == nullptr) return NotFound("Symbol not found.");
      AddFileWithDependencies(f, response);
      return grpc::Status::OK;
    }
    case ServerReflectionRequest::kFileContainingExtension: {
      const auto& ext = request.file_containing_extension();
      const pb::Descriptor* type = pool_.FindMessageTypeByName(ext.containing_type());
      if (type == nullptr) return NotFound("Type not found.");
      const pb::FieldDescriptor* field = pool_.FindExtensionByNumber(type, ext.extension_number());
      if (field == nullptr) return NotFound("Extension not found.");
      AddFileWithDependencies(field->file(), response);
      return grpc::Status::OK;
    }
    case ServerReflectionRequest::kAllExtensionNumbersOfType: {
      const pb::Descriptor* type =
          pool_.FindMessageTypeByName(request.all_extension_numbers_of_type());
      if (type == nullptr) return NotFound("Type not found.");
      std::vector<const pb::FieldDescriptor*> extensions;
      pool_.FindAllExtensions(type, &extensions);
      auto* numbers = response->mutable_all_extension_numbers_response();
      numbers->set_base_type_name(type->full_name());
      for (const pb::FieldDescriptor* e : extensions) numbers->add_extension_number(e->number());
      return grpc::Status::OK;
    }
    case ServerReflectionRequest::kListServices: {
      auto* list = response->mutable_list_services_response();
      for (const std::string& name : services_) list->add_service()->set_name(name);
      return grpc::Status::OK;
    }
    case ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
      break;
  }
  // Nothing set, or a kind newer than this proto (parsed as an unknown field). grpc-go answers
  // INVALID_ARGUMENT too but ends the stream; grpc++ says UNIMPLEMENTED.
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no message_request set");
}

}  // namespace kfreeze::server

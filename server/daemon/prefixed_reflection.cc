#include "server/daemon/prefixed_reflection.h"

#include <cstring>

#include "absl/strings/match.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/proto_buffer_writer.h"

namespace kfreeze::server {
namespace {

using grpc::reflection::v1::ServerReflectionRequest;
using grpc::reflection::v1::ServerReflectionResponse;

constexpr const char* kReflectionMethods[] = {
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
};

// Reads a request, writes its answer, until the client half-closes.
class ReflectionReactor final : public grpc::ServerGenericBidiReactor {
 public:
  explicit ReflectionReactor(const ReflectionV1Service* reflection) : reflection_(reflection) {
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::OK);
    ServerReflectionRequest request;
    grpc::ProtoBufferReader reader(&in_);
    if (!request.ParseFromZeroCopyStream(&reader)) {
      return Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "unreadable request"));
    }
    ServerReflectionResponse response = reflection_->Answer(request);
    bool own = false;
    out_.Clear();  // the serializer takes an empty buffer (it asserts so): the last reply is sent
    if (!grpc::SerializationTraits<ServerReflectionResponse>::Serialize(response, &out_, &own)
             .ok()) {
      return Finish(grpc::Status(grpc::StatusCode::INTERNAL, "unserializable response"));
    }
    StartWrite(&out_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::OK);
    StartRead(&in_);
  }

  void OnDone() override { delete this; }

 private:
  const ReflectionV1Service* const reflection_;
  grpc::ByteBuffer in_, out_;
};

class Unimplemented final : public grpc::ServerGenericBidiReactor {
 public:
  Unimplemented() { Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "")); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerGenericBidiReactor* PrefixedReflection::CreateReactor(
    grpc::GenericCallbackServerContext* ctx) {
  for (const char* method : kReflectionMethods) {
    // A prefix of at least "/x": the unprefixed path is the registered services' own.
    if (absl::EndsWith(ctx->method(), method) && ctx->method().size() > strlen(method) + 1) {
      return new ReflectionReactor(reflection_);
    }
  }
  return new Unimplemented;
}

}  // namespace kfreeze::server

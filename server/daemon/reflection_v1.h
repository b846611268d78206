// grpc.reflection.v1.ServerReflection. grpc++ 1.51's plugin serves only v1alpha; clients that ask
// for v1 only (buf curl --reflect-protocol grpc-v1, tools without the v1alpha fallback) got
// UNIMPLEMENTED. Answers from the generated DescriptorPool, as the v1alpha plugin does, so both
// versions describe the same files.
#pragma once

#include <string>
#include <vector>

#include "grpc/reflection/v1/reflection.grpc.pb.h"

namespace kfreeze::server {

class ReflectionV1Service final : public grpc::reflection::v1::ServerReflection::Service {
 public:
  // Full names of the services the server registers: grpc::Server does not tell them.
  explicit ReflectionV1Service(std::vector<std::string> services);

  grpc::Status ServerReflectionInfo(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<grpc::reflection::v1::ServerReflectionResponse,
                               grpc::reflection::v1::ServerReflectionRequest>* stream) override;

  // The reply to one request of the stream (v1alpha's messages are the same on the wire).
  grpc::reflection::v1::ServerReflectionResponse Answer(
      const grpc::reflection::v1::ServerReflectionRequest& request) const;

 private:
  grpc::Status Fill(const grpc::reflection::v1::ServerReflectionRequest& request,
                    grpc::reflection::v1::ServerReflectionResponse* response) const;

  const std::vector<std::string> services_;
  const google::protobuf::DescriptorPool& pool_;
};

}  // namespace kfreeze::server

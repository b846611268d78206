// Reflection under a service path. `buf curl --list-methods http://host/kfreeze.v1.FreezeService`
// reads the service name as a path prefix and asks
// /kfreeze.v1.FreezeService/grpc.reflection.v1.ServerReflection/ServerReflectionInfo, which no
// registered service answers (buf's help says to give a base URL; users give the service's).
// This generic service answers reflection under any such prefix, v1 and v1alpha, with
// ReflectionV1Service's replies; every other unknown method stays UNIMPLEMENTED.
#pragma once

#include "grpcpp/generic/async_generic_service.h"
#include "server/daemon/reflection_v1.h"

namespace kfreeze::server {

class PrefixedReflection final : public grpc::CallbackGenericService {
 public:
  explicit PrefixedReflection(const ReflectionV1Service* reflection) : reflection_(reflection) {}

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;

 private:
  const ReflectionV1Service* const reflection_;
};

}  // namespace kfreeze::server

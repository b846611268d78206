// grpc.reflection.v1 as kfreezed serves it: over an in-process gRPC server (service list, file
// sets a fresh DescriptorPool can build, extensions, NOT_FOUND, hostile requests on one stream),
// then through Daemon on its unix socket (the registration in daemon.cc).
#include "server/daemon/reflection_v1.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"
#include "kfreeze/v1/service.grpc.pb.h"
#include "server/daemon/config.h"
#include "server/daemon/daemon.h"
#include "tests/support/temp_dir.h"

namespace kfreeze::server {
namespace {

namespace pb = google::protobuf;
using grpc::reflection::v1::ServerReflection;
using grpc::reflection::v1::ServerReflectionRequest;
using grpc::reflection::v1::ServerReflectionResponse;
using ::testing::Contains;
using ::testing::ElementsAreArray;

const std::vector<std::string> kServices = {"kfreeze.v1.FreezeService", "grpc.health.v1.Health",
                                            "grpc.reflection.v1alpha.ServerReflection",
                                            "grpc.reflection.v1.ServerReflection"};

// One reflection stream; Ask() writes a request and reads its answer.
class Stream {
 public:
  explicit Stream(ServerReflection::Stub* stub) : rw_(stub->ServerReflectionInfo(&ctx_)) {}
  ~Stream() {
    rw_->WritesDone();
    EXPECT_TRUE(rw_->Finish().ok());
  }

  ServerReflectionResponse Ask(const ServerReflectionRequest& request) {
    ServerReflectionResponse response;
    EXPECT_TRUE(rw_->Write(request));
    EXPECT_TRUE(rw_->Read(&response)) << "stream ended";
    return response;
  }
  ServerReflectionResponse Symbol(const std::string& name) {
    ServerReflectionRequest r;
    r.set_file_containing_symbol(name);
    return Ask(r);
  }
  ServerReflectionResponse File(const std::string& name) {
    ServerReflectionRequest r;
    r.set_file_by_filename(name);
    return Ask(r);
  }
  ServerReflectionResponse Extension(const std::string& type, int number) {
    ServerReflectionRequest r;
    r.mutable_file_containing_extension()->set_containing_type(type);
    r.mutable_file_containing_extension()->set_extension_number(number);
    return Ask(r);
  }
  std::vector<std::string> Services(const std::string& content) {
    ServerReflectionRequest r;
    r.set_list_services(content);
    ServerReflectionResponse response = Ask(r);
    EXPECT_EQ(response.original_request().list_services(), content);
    std::vector<std::string> names;
    for (const auto& service : response.list_services_response().service()) {
      names.push_back(service.name());
    }
    return names;
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<ServerReflectionRequest, ServerReflectionResponse>> rw_;
};

std::vector<pb::FileDescriptorProto> Files(const ServerReflectionResponse& response) {
  std::vector<pb::FileDescriptorProto> out;
  for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
    EXPECT_TRUE(out.emplace_back().ParseFromString(bytes));
  }
  return out;
}

std::string FirstFile(const ServerReflectionResponse& response) {
  std::vector<pb::FileDescriptorProto> files = Files(response);
  return files.empty() ? "" : files[0].name();
}

int ErrorCode(const ServerReflectionResponse& response) {
  return response.has_error_response() ? response.error_response().error_code() : grpc::OK;
}

class ReflectionV1Test : public ::testing::Test {
 protected:
  void SetUp() override {
    // Links the descriptors in (static initialisers of objects nothing else references).
    (void)kfreeze::v1::FreezeRequest::descriptor();
    (void)grpc::health::v1::HealthCheckRequest::descriptor();
    service_ = std::make_unique<ReflectionV1Service>(kServices);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = ServerReflection::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  void TearDown() override { server_->Shutdown(); }

  std::unique_ptr<ReflectionV1Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<ServerReflection::Stub> stub_;
};

TEST_F(ReflectionV1Test, ListsTheGivenServices) {
  Stream s(stub_.get());
  EXPECT_THAT(s.Services("*"), ElementsAreArray(kServices));  // the content is not checked
}

TEST_F(ReflectionV1Test, ServiceSymbolYieldsAFileSetAFreshPoolBuilds) {
  Stream s(stub_.get());
  ServerReflectionResponse response = s.Symbol("kfreeze.v1.FreezeService");
  ASSERT_EQ(ErrorCode(response), grpc::OK) << response.error_response().error_message();
  std::vector<pb::FileDescriptorProto> files = Files(response);
  ASSERT_FALSE(files.empty());
  EXPECT_EQ(files[0].name(), "kfreeze/v1/service.proto");
  // Each file once; the pool is built from the answer alone: every dependency must be in it.
  pb::DescriptorPool pool;
  absl::flat_hash_set<std::string> names;
  for (const pb::FileDescriptorProto& f : files) EXPECT_TRUE(names.insert(f.name()).second);
  for (size_t built = 0, round = 0; built < files.size() && round < files.size(); ++round) {
    for (const pb::FileDescriptorProto& f : files) {
      bool ready = pool.FindFileByName(f.name()) == nullptr;  // not built yet, its deps are
      for (const std::string& dep : f.dependency()) {
        ready = ready && pool.FindFileByName(dep) != nullptr;
      }
      if (ready) {
        ASSERT_NE(pool.BuildFile(f), nullptr) << f.name();
        ++built;
      }
    }
  }
  const pb::ServiceDescriptor* fresh = pool.FindServiceByName("kfreeze.v1.FreezeService");
  ASSERT_NE(fresh, nullptr) << "a dependency is missing from the answer";
  const pb::ServiceDescriptor* linked =
      kfreeze::v1::FreezeRequest::descriptor()->file()->FindServiceByName("FreezeService");
  ASSERT_NE(linked, nullptr);
  EXPECT_EQ(fresh->method_count(), linked->method_count());
  EXPECT_NE(fresh->FindMethodByName("Freeze"), nullptr);
  EXPECT_NE(fresh->FindMethodByName("WatchDumps"), nullptr);
}

// Full names of everything `file` declares: messages (nested too), fields, oneofs, enums and
// their values, extensions, services, methods.
std::vector<std::string> SymbolsOf(const pb::FileDescriptor* file) {
  std::vector<std::string> out;
  std::vector<const pb::Descriptor*> messages;
  std::vector<const pb::EnumDescriptor*> enums;
  for (int i = 0; i < file->message_type_count(); ++i) messages.push_back(file->message_type(i));
  for (int i = 0; i < file->enum_type_count(); ++i) enums.push_back(file->enum_type(i));
  for (int i = 0; i < file->extension_count(); ++i) out.push_back(file->extension(i)->full_name());
  for (size_t m = 0; m < messages.size(); ++m) {  // grows while walked: nested types
    const pb::Descriptor* d = messages[m];
    out.push_back(d->full_name());
    for (int i = 0; i < d->field_count(); ++i) out.push_back(d->field(i)->full_name());
    for (int i = 0; i < d->oneof_decl_count(); ++i) out.push_back(d->oneof_decl(i)->full_name());
    for (int i = 0; i < d->extension_count(); ++i) out.push_back(d->extension(i)->full_name());
    for (int i = 0; i < d->nested_type_count(); ++i) messages.push_back(d->nested_type(i));
    for (int i = 0; i < d->enum_type_count(); ++i) enums.push_back(d->enum_type(i));
  }
  for (const pb::EnumDescriptor* e : enums) {
    out.push_back(e->full_name());
    for (int i = 0; i < e->value_count(); ++i) out.push_back(e->value(i)->full_name());
  }
  for (int i = 0; i < file->service_count(); ++i) {
    out.push_back(file->service(i)->full_name());
    for (int m = 0; m < file->service(i)->method_count(); ++m) {
      out.push_back(file->service(i)->method(m)->full_name());
    }
  }
  return out;
}

// Every symbol of every file the service needs is found in its file; many requests, one stream.
TEST_F(ReflectionV1Test, EverySymbolOfTheServiceFilesIsFound) {
  Stream s(stub_.get());
  int asked = 0;
  for (const pb::FileDescriptorProto& proto : Files(s.Symbol("kfreeze.v1.FreezeService"))) {
    const pb::FileDescriptor* file =
        pb::DescriptorPool::generated_pool()->FindFileByName(proto.name());
    ASSERT_NE(file, nullptr);
    for (const std::string& symbol : SymbolsOf(file)) {
      EXPECT_EQ(FirstFile(s.Symbol(symbol)), file->name()) << symbol;
      ++asked;
    }
  }
  EXPECT_GT(asked, 200);
}

TEST_F(ReflectionV1Test, FilesByNameWithTheirDependencies) {
  Stream s(stub_.get());
  std::vector<pb::FileDescriptorProto> files = Files(s.File("kfreeze/v1/report.proto"));
  ASSERT_FALSE(files.empty());
  EXPECT_EQ(files[0].name(), "kfreeze/v1/report.proto");
  std::vector<std::string> names;
  for (const auto& f : files) names.push_back(f.name());
  EXPECT_THAT(names, Contains("kfreeze/v1/ktstr_options.proto"));
  EXPECT_THAT(names, Contains("google/protobuf/descriptor.proto"));
  EXPECT_EQ(FirstFile(s.File("google/protobuf/timestamp.proto")),
            "google/protobuf/timestamp.proto");
  EXPECT_EQ(FirstFile(s.File("grpc/reflection/v1/reflection.proto")),
            "grpc/reflection/v1/reflection.proto");
  EXPECT_EQ(FirstFile(s.Symbol("grpc.health.v1.Health.Check")), "grpc/health/v1/health.proto");
}

TEST_F(ReflectionV1Test, Extensions) {
  Stream s(stub_.get());
  const pb::FieldDescriptor* ktstr =
      pb::DescriptorPool::generated_pool()->FindExtensionByName("kfreeze.v1.ktstr");
  ASSERT_NE(ktstr, nullptr);
  EXPECT_EQ(FirstFile(s.Extension("google.protobuf.FieldOptions", ktstr->number())),
            "kfreeze/v1/ktstr_options.proto");
  EXPECT_EQ(ErrorCode(s.Extension("google.protobuf.FieldOptions", 1)), grpc::NOT_FOUND);
  EXPECT_EQ(ErrorCode(s.Extension("google.protobuf.FieldOptions", -5)), grpc::NOT_FOUND);
  EXPECT_EQ(ErrorCode(s.Extension("no.such.Type", ktstr->number())), grpc::NOT_FOUND);

  ServerReflectionRequest r;
  r.set_all_extension_numbers_of_type("google.protobuf.FieldOptions");
  ServerReflectionResponse numbers = s.Ask(r);
  EXPECT_EQ(numbers.all_extension_numbers_response().base_type_name(),
            "google.protobuf.FieldOptions");
  EXPECT_THAT(numbers.all_extension_numbers_response().extension_number(),
              Contains(ktstr->number()));
  r.set_all_extension_numbers_of_type("kfreeze.v1.FreezeService");  // a service, not a message
  EXPECT_EQ(ErrorCode(s.Ask(r)), grpc::NOT_FOUND);
}

TEST_F(ReflectionV1Test, UnknownNamesAreNotFound) {
  Stream s(stub_.get());
  ServerReflectionResponse response = s.Symbol("kfreeze.v1.NoSuchService");
  EXPECT_EQ(ErrorCode(response), grpc::NOT_FOUND);
  EXPECT_EQ(response.original_request().file_containing_symbol(), "kfreeze.v1.NoSuchService");
  EXPECT_EQ(ErrorCode(s.Symbol("")), grpc::NOT_FOUND);
  EXPECT_EQ(ErrorCode(s.File("../../../etc/passwd")), grpc::NOT_FOUND);
  EXPECT_EQ(FirstFile(s.Symbol("kfreeze.v1.FreezeService")), "kfreeze/v1/service.proto");
}

TEST_F(ReflectionV1Test, GarbageRequestsLeaveTheStreamUsable) {
  Stream s(stub_.get());
  EXPECT_EQ(ErrorCode(s.Ask(ServerReflectionRequest())), grpc::INVALID_ARGUMENT);

  ServerReflectionRequest odd;  // valid UTF-8 (proto3 strings must be), no protobuf name
  odd.set_host("\x01\x7f h\xc3\xa9te");
  odd.set_file_containing_symbol("\t..\xe5\x90\x8d\xe5\x89\x8d..*");
  ServerReflectionResponse response = s.Ask(odd);
  EXPECT_EQ(ErrorCode(response), grpc::NOT_FOUND);
  EXPECT_EQ(response.valid_host(), odd.host());

  // Over the request bound: refused, and not sent back at its size.
  ServerReflectionRequest huge;
  huge.set_host("h");
  huge.set_file_by_filename(std::string(1 << 20, 'a'));
  response = s.Ask(huge);
  EXPECT_EQ(ErrorCode(response), grpc::INVALID_ARGUMENT);
  EXPECT_FALSE(response.has_original_request());
  EXPECT_LT(response.ByteSizeLong(), 1024u);

  // A request kind this proto does not know arrives as an unknown field.
  ServerReflectionRequest newer;
  newer.GetReflection()->MutableUnknownFields(&newer)->AddLengthDelimited(99, "future");
  EXPECT_EQ(ErrorCode(s.Ask(newer)), grpc::INVALID_ARGUMENT);

  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ(ErrorCode(s.Symbol("garbage." + std::to_string(i))), grpc::NOT_FOUND);
  }
  EXPECT_EQ(FirstFile(s.Symbol("kfreeze.v1.FreezeService")), "kfreeze/v1/service.proto");
}

// Not a ServerReflectionRequest at all (proto3 strings must be UTF-8): gRPC refuses it before the
// service sees it and that stream ends; the server goes on answering.
TEST_F(ReflectionV1Test, UnparsableRequestEndsOnlyItsStream) {
  {
    grpc::ClientContext ctx;
    auto rw = stub_->ServerReflectionInfo(&ctx);
    ServerReflectionRequest bad;
    bad.set_file_containing_symbol(std::string("\xff\x00\xfe", 3));
    rw->Write(bad);  // protobuf logs the invalid UTF-8 and sends it anyway
    ServerReflectionResponse response;
    EXPECT_FALSE(rw->Read(&response));
    rw->Finish();
  }
  Stream s(stub_.get());
  EXPECT_EQ(FirstFile(s.Symbol("kfreeze.v1.FreezeService")), "kfreeze/v1/service.proto");
}

// A daemon with no target, listening in `tmp`.
absl::StatusOr<std::unique_ptr<Daemon>> StartDaemon(const kfreeze::testing::TempDir& tmp) {
  DaemonOptions o;
  o.config.add_listen("unix:" + tmp.path() + "/k.sock");
  o.config.mutable_archive()->set_dir(tmp.path() + "/archive");
  ApplyDefaults(o.config);
  return Daemon::Start(std::move(o));
}

// The daemon registers v1 next to the plugin's v1alpha and lists all four services.
TEST(DaemonReflectionV1Test, ServedOnTheUnixSocket) {
  const kfreeze::testing::TempDir tmp("kfr");  // short: unix socket paths are limited
  absl::StatusOr<std::unique_ptr<Daemon>> d = StartDaemon(tmp);
  ASSERT_TRUE(d.ok()) << d.status();
  {
    auto stub = ServerReflection::NewStub(
        grpc::CreateChannel("unix:" + tmp.path() + "/k.sock", grpc::InsecureChannelCredentials()));
    Stream s(stub.get());
    EXPECT_THAT(s.Services(""), ::testing::UnorderedElementsAreArray(kServices));
    EXPECT_EQ(FirstFile(s.Symbol("kfreeze.v1.FreezeService")), "kfreeze/v1/service.proto");
    EXPECT_EQ(FirstFile(s.Symbol("grpc.health.v1.Health")), "grpc/health/v1/health.proto");
  }
  (*d)->Shutdown();
}

// One bidi call on an arbitrary path through grpc's generic stub: writes `request` (raw bytes),
// reads one reply if any; the final status.
struct RawCall {
  grpc::Status status;
  std::optional<std::string> reply;
};
RawCall CallRaw(const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
                const std::string& request) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  void* tag = nullptr;
  bool ok = false;
  auto next = [&] { return cq.Next(&tag, &ok) && ok; };
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = stub.PrepareCall(&ctx, path, &cq);
  call->StartCall(reinterpret_cast<void*>(1));
  RawCall out;
  if (next()) {
    grpc::Slice slice(request);
    grpc::ByteBuffer buffer(&slice, 1);
    call->Write(buffer, reinterpret_cast<void*>(2));
    if (next()) {
      grpc::ByteBuffer in;
      call->Read(&in, reinterpret_cast<void*>(3));
      if (next()) {
        std::vector<grpc::Slice> slices;
        (void)in.Dump(&slices);
        std::string bytes;
        for (const grpc::Slice& s : slices) bytes.append(s.begin(), s.end());
        out.reply = bytes;
      }
    }
    call->WritesDone(reinterpret_cast<void*>(4));
    (void)next();
  }
  call->Finish(&out.status, reinterpret_cast<void*>(5));
  while (cq.Next(&tag, &ok) && tag != reinterpret_cast<void*>(5)) {
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return out;
}

// Reflection under a service's path (buf curl --list-methods http://host/<service>): answered in
// v1 and v1alpha; garbage there ends only its call; other unknown paths stay UNIMPLEMENTED.
TEST(DaemonReflectionV1Test, AnsweredUnderAServicePathToo) {
  const kfreeze::testing::TempDir tmp("kfr");
  absl::StatusOr<std::unique_ptr<Daemon>> d = StartDaemon(tmp);
  ASSERT_TRUE(d.ok()) << d.status();
  {
    auto channel =
        grpc::CreateChannel("unix:" + tmp.path() + "/k.sock", grpc::InsecureChannelCredentials());
    ServerReflectionRequest list;
    list.set_list_services("");
    for (const char* version : {"v1", "v1alpha"}) {
      RawCall r = CallRaw(channel,
                          absl::StrCat("/kfreeze.v1.FreezeService/grpc.reflection.", version,
                                       ".ServerReflection/ServerReflectionInfo"),
                          list.SerializeAsString());
      ASSERT_TRUE(r.reply.has_value()) << version << ": " << r.status.error_message();
      ServerReflectionResponse response;
      ASSERT_TRUE(response.ParseFromString(*r.reply));
      EXPECT_EQ(response.list_services_response().service_size(), 4) << version;
    }
    RawCall garbage =
        CallRaw(channel, "/x/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                std::string("\xff\xff\xff\xff garbage", 13));
    EXPECT_EQ(garbage.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    RawCall unknown = CallRaw(channel, "/kfreeze.v1.FreezeService/Nope", "");
    EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
    // The daemon still serves.
    auto stub = ServerReflection::NewStub(channel);
    Stream s(stub.get());
    EXPECT_THAT(s.Services(""), ::testing::UnorderedElementsAreArray(kServices));
  }
  (*d)->Shutdown();
}

}  // namespace
}  // namespace kfreeze::server

#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace postroom::server {

// The only way a grpc::Status is made from an error: the two code sets share their numbers.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace postroom::server

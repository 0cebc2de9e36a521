// Forced into every domain core by postroom_core_guard(): cores talk to the world only through
// interfaces, so a gRPC or libpqxx header here is a layering mistake caught at compile time.
#pragma once
#pragma GCC poison grpc pqxx

#pragma once

namespace postroom::server {

// The whole main() of a service whose capability a later issue builds: it parses the common
// flags, serves the gRPC health protocol (ready once the database schema is current) and
// metrics, and nothing else. Returns the process exit code.
int RunPlaceholderService(int argc, char** argv, const char* service, int grpc_port,
                          int metrics_port, const char* what_comes);

}  // namespace postroom::server

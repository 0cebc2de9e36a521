#pragma once

// The subcommand framework: a subcommand is one function plus its flags and help, listed in a
// dispatch table. The config commands live in config_commands.cc; router/fetcher commands
// (`route FILE.eml`, `get messages`, `reprocess`, ...) and the offline `inspect` go in their own
// files and are appended in AllCommands() (commands.cc).
#include <grpcpp/grpcpp.h>

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/base/clock.h"
#include "postroom/v1/config.grpc.pb.h"
#include "postroom/v1/fetcher.pb.h"
#include "tools/postroomctl/args.h"
#include "tools/postroomctl/connection.h"
#include "tools/postroomctl/rpc.h"
#include "tools/postroomctl/yaml_proto.h"

namespace postroom::ctl {

// Everything postroomctl takes from the outside world; tests replace each part.
struct Environment {
  std::istream* in = nullptr;  // For `-f -`.
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  EnvLookup env;
  FileReader read_file;
  // Lists a directory's files (for `apply -f DIR`), sorted; NOT_FOUND if it is not one.
  std::function<absl::StatusOr<std::vector<std::string>>(const std::string&)> list_dir;
  Clock* clock = nullptr;
  // Waits between looks (`watch`); tests move their clock instead.
  std::function<void(absl::Duration)> sleep;
  // Standard output is a terminal: `watch` rewrites its line in place.
  bool out_is_terminal = false;
  // Opens a channel to one service; the default honours --tls and --ca-file.
  std::function<absl::StatusOr<std::shared_ptr<grpc::ChannelInterface>>(
      const std::string& addr, const ConnectionOptions& options)>
      open_channel;
};

// The real process: std::cin/cout/cerr, getenv, the disk, RealClock(), real channels.
Environment ProcessEnvironment();

struct Command;

// What a running command sees. Not thread-safe; one per invocation.
class Context {
 public:
  Context(Environment& env, const Command& command, ParsedArgs args, ConnectionOptions conn)
      : env_(env), command_(command), args_(std::move(args)), conn_(std::move(conn)) {}

  std::ostream& out() { return *env_.out; }
  std::ostream& err() { return *env_.err; }
  Environment& env() { return env_; }
  const Command& command() const { return command_; }
  const ParsedArgs& args() const { return args_; }
  // Positionals after the command name.
  const std::vector<std::string>& positionals() const { return args_.positionals; }
  const ConnectionOptions& connection() const { return conn_; }
  absl::Time Now() { return env_.clock->Now(); }
  CallOptions call_options() const { return CallOptions{conn_.token, conn_.timeout}; }

  // The config service stub, connected on first use.
  absl::StatusOr<v1::ConfigService::StubInterface*> ConfigStub();

  // Calls one ConfigService method with the deadline and token.
  template <typename Request, typename Response>
  absl::StatusOr<Response> CallConfig(grpc::Status (v1::ConfigService::StubInterface::*method)(
                                          grpc::ClientContext*, const Request&, Response*),
                                      const Request& request) {
    absl::StatusOr<v1::ConfigService::StubInterface*> stub = ConfigStub();
    if (!stub.ok()) return stub.status();
    return Call(**stub, method, request, call_options());
  }

  // Prints `error: <message>` and a pointer to the command's help; returns kExitUsage.
  int UsageError(const std::string& message);
  // Prints a config service error (FormatError); returns its exit code.
  int ConfigError(const absl::Status& status);

 private:
  Environment& env_;
  const Command& command_;
  ParsedArgs args_;
  ConnectionOptions conn_;
  std::unique_ptr<v1::ConfigService::StubInterface> config_stub_;
};

struct Command {
  std::string name;     // "get"
  std::string usage;    // "get KIND [NAME] [-o table|json|yaml|name] [--connector C]"
  std::string summary;  // One line for the command list.
  std::string help;     // Longer text with examples.
  std::vector<FlagSpec> flags;
  std::function<int(Context&)> run;
  // The kinds its first positional takes ("connectors", "message", ...), for shell completion;
  // each file that extends a command adds its own.
  std::vector<std::string> kinds;
};

// Adds `flag` to `command` unless it has a flag of that name (for files that extend `get` and
// `describe` with their kinds).
void AddFlag(Command& command, const FlagSpec& flag);

// The fetcher's ListOwners (fetcher_commands.cc), for commands that show a connector's lease.
absl::StatusOr<v1::ListOwnersResponse> FetcherOwners(Context& ctx);

// The config service commands: apply, get, describe, delete, enable, disable, test, history,
// move.
std::vector<Command> ConfigCommands();
// `inspect`: offline parsing and classification (inspect_command.cc).
std::vector<Command> InspectCommands();
// `watch connector NAME`: a live line until the first sync is done (watch_command.cc).
Command WatchCommand();
// `completion bash|zsh`: a shell completion script made from `commands` (completion_command.cc).
Command CompletionCommand();
// The bash completion script for `commands` (zsh runs it through bashcompinit).
std::string BashCompletion(const std::vector<Command>& commands);

// The flags every command takes: the connection's and --help.
std::vector<FlagSpec> GlobalFlags();

// Every command, in help order.
std::vector<Command> AllCommands();

// Runs postroomctl with `args` (without the program name); returns the exit code.
int Run(const std::vector<std::string>& args, Environment& env);

}  // namespace postroom::ctl

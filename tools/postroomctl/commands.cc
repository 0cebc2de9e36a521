// The dispatcher: finds the subcommand, parses its flags with the global ones, resolves the
// connection and runs it.
#include <algorithm>
#include <exception>
#include <filesystem>
#include <iostream>

#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/base/version.h"
#include "tools/postroomctl/command.h"
#include "tools/postroomctl/terminal_safe.h"

namespace postroom::ctl {

std::vector<FlagSpec> GlobalFlags() {
  std::vector<FlagSpec> flags = ConnectionFlags();
  flags.push_back({"help", 'h', false, false, "", "show help"});
  return flags;
}

namespace {

std::string GeneralHelp(const std::vector<Command>& commands) {
  std::string out =
      "postroomctl: the postroom admin client.\n\n"
      "Usage: postroomctl COMMAND [ARGS] [flags]\n\nCommands:\n";
  size_t width = 0;
  for (const Command& c : commands) width = std::max(width, c.name.size());
  for (const Command& c : commands) {
    absl::StrAppend(&out, "  ", c.name, std::string(width - c.name.size() + 3, ' '), c.summary,
                    "\n");
  }
  absl::StrAppend(&out, "\nKinds: ",
                  "connector(s), route(s), template(s), blocked-address(es), setting(s), "
                  "webhook(s); "
                  "get and describe also take message(s), work-item(s) and outbox; "
                  "get suppressions, delete suppression"
                  "\n\nGlobal flags (also from environment variables or the client "
                  "config file):\n",
                  FlagHelp(GlobalFlags()),
                  "  --version  print the version and the commit it was built from\n"
                  "\nExit codes: 0 ok, 1 the server refused, 2 usage error (nothing sent), "
                  "3 server unreachable.\n"
                  "Run 'postroomctl help COMMAND' for a command's flags and examples.\n");
  return out;
}

std::string CommandHelp(const Command& c) {
  std::string out = absl::StrCat("Usage: postroomctl ", c.usage, "\n\n", c.summary, "\n");
  if (!c.help.empty()) absl::StrAppend(&out, "\n", c.help);
  if (!c.flags.empty()) absl::StrAppend(&out, "\nFlags:\n", FlagHelp(c.flags));
  absl::StrAppend(&out, "\nGlobal flags:\n", FlagHelp(GlobalFlags()));
  return out;
}

const Command* Find(const std::vector<Command>& commands, const std::string& name) {
  for (const Command& c : commands) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// JSON and YAML stay exact for the programs that read them (their own escaping covers control
// characters); `inspect` prints JSON lines only.
bool IsMachineOutput(const Command& command, const ParsedArgs& args) {
  const std::string format = args.Get("output");
  // `watch` writes its own control sequences (\r, erase line) around a line it made safe.
  return format == "json" || format == "yaml" || command.name == "inspect" ||
         command.name == "watch";
}

}  // namespace

Environment ProcessEnvironment() {
  Environment env;
  env.in = &std::cin;
  env.out = &std::cout;
  env.err = &std::cerr;
  env.env = ProcessEnv();
  env.read_file = DiskFileReader();
  env.list_dir = [](const std::string& path) -> absl::StatusOr<std::vector<std::string>> {
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec)) {
      return absl::NotFoundError(absl::StrCat(path, " is not a directory"));
    }
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
      if (entry.is_regular_file()) files.push_back(entry.path().string());
    }
    if (ec)
      return absl::PermissionDeniedError(absl::StrCat("cannot list ", path, ": ", ec.message()));
    std::sort(files.begin(), files.end());
    return files;
  };
  env.clock = &RealClock();
  env.sleep = [](absl::Duration d) { absl::SleepFor(d); };
  env.out_is_terminal = isatty(STDOUT_FILENO) == 1;
  FileReader reader = env.read_file;
  env.open_channel = [reader](const std::string& addr, const ConnectionOptions& options) {
    return OpenChannel(addr, options, reader);
  };
  return env;
}

absl::StatusOr<v1::ConfigService::StubInterface*> Context::ConfigStub() {
  if (config_stub_ == nullptr) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelInterface>> channel =
        env_.open_channel(conn_.config_addr, conn_);
    if (!channel.ok()) return channel.status();
    config_stub_ = v1::ConfigService::NewStub(*channel);
  }
  return config_stub_.get();
}

int Context::UsageError(const std::string& message) {
  err() << "error: " << message << "\n"
        << "usage: postroomctl " << command_.usage << "\n"
        << "see 'postroomctl help " << command_.name << "'\n";
  return kExitUsage;
}

int Context::ConfigError(const absl::Status& status) {
  err() << FormatError(status, "config", conn_.config_addr) << "\n";
  return ExitCodeFor(status);
}

void AddFlag(Command& command, const FlagSpec& flag) {
  for (const FlagSpec& x : command.flags) {
    if (x.name == flag.name) return;
  }
  command.flags.push_back(flag);
}

void AddRouterCommands(std::vector<Command>& commands);   // router_commands.cc
void AddFetcherCommands(std::vector<Command>& commands);  // fetcher_commands.cc
void AddSenderCommands(std::vector<Command>& commands);   // sender_commands.cc

std::vector<Command> AllCommands() {
  std::vector<Command> commands = ConfigCommands();
  for (Command& c : InspectCommands()) commands.push_back(std::move(c));
  AddRouterCommands(commands);  // router_commands.cc
  AddFetcherCommands(commands);
  AddSenderCommands(commands);
  commands.push_back(WatchCommand());
  commands.push_back(CompletionCommand());
  return commands;
}

int Run(const std::vector<std::string>& args, Environment& env) {
  const std::vector<Command> commands = AllCommands();
  const std::vector<FlagSpec> globals = GlobalFlags();
  std::ostream& out = *env.out;
  std::ostream& err = *env.err;

  // `postroomctl --version` and `postroomctl version`, as kubectl has.
  if ((!args.empty() && args[0] == "version") ||
      std::find(args.begin(), args.end(), "--version") != args.end()) {
    out << "postroomctl " << kVersion << " (commit " << kCommit << ")\n";
    return kExitOk;
  }
  absl::StatusOr<int> first = FindFirstPositional(args, globals);
  if (!first.ok()) {
    err << "error: " << first.status().message() << "\nrun 'postroomctl help' for usage\n";
    return kExitUsage;
  }
  if (*first < 0) {
    const bool asked = std::find(args.begin(), args.end(), "--help") != args.end() ||
                       std::find(args.begin(), args.end(), "-h") != args.end();
    (asked ? out : err) << GeneralHelp(commands);
    return asked ? kExitOk : kExitUsage;
  }
  const std::string name = args[*first];
  std::vector<std::string> rest = args;
  rest.erase(rest.begin() + *first);
  if (name == "help") {
    absl::StatusOr<ParsedArgs> parsed = ParseArgs(rest, globals);
    if (parsed.ok() && !parsed->positionals.empty()) {
      const Command* c = Find(commands, parsed->positionals[0]);
      if (c == nullptr) {
        err << "error: unknown command \"" << parsed->positionals[0] << "\"\n";
        return kExitUsage;
      }
      out << CommandHelp(*c);
      return kExitOk;
    }
    out << GeneralHelp(commands);
    return kExitOk;
  }
  const Command* command = Find(commands, name);
  if (command == nullptr) {
    err << "error: unknown command \"" << name << "\"\nrun 'postroomctl help' for the commands\n";
    return kExitUsage;
  }
  std::vector<FlagSpec> specs = globals;
  specs.insert(specs.end(), command->flags.begin(), command->flags.end());
  absl::StatusOr<ParsedArgs> parsed = ParseArgs(rest, specs);
  if (!parsed.ok()) {
    err << "error: " << parsed.status().message() << "\nusage: postroomctl " << command->usage
        << "\nsee 'postroomctl help " << command->name << "'\n";
    return kExitUsage;
  }
  if (parsed->GetBool("help")) {
    out << CommandHelp(*command);
    return kExitOk;
  }
  std::vector<std::string> warnings;
  absl::StatusOr<ConnectionOptions> conn =
      ResolveConnection(*parsed, env.env, env.read_file, &warnings);
  for (const std::string& w : warnings) err << "warning: " << w << "\n";
  if (!conn.ok()) {
    err << "error: " << conn.status().message() << "\n";
    return kExitUsage;
  }
  // People read everything but JSON and YAML: mail-derived text must not drive their terminal.
  TerminalSafeStream safe_out(*env.out);
  TerminalSafeStream safe_err(*env.err);
  Environment safe_env = env;
  safe_env.err = &safe_err;
  if (!IsMachineOutput(*command, *parsed)) safe_env.out = &safe_out;
  Context context(safe_env, *command, *std::move(parsed), *std::move(conn));
  try {
    return command->run(context);
  } catch (const std::exception& e) {
    // Nothing below should throw; if a library does, say so instead of aborting.
    safe_err << "error (INTERNAL): postroomctl " << name << ": " << e.what() << "\n";
    return kExitRefused;
  }
}

}  // namespace postroom::ctl

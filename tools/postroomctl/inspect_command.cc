// `postroomctl inspect [--json] FILE|DIR...`: parses and classifies emails offline, with the
// router's own library (libs/mime), and prints one JSON line per file. No server is needed.
#include <algorithm>
#include <filesystem>
#include <ostream>

#include "libs/mime/inspect.h"
#include "tools/postroomctl/command.h"

namespace postroom::ctl {
namespace {

int RunInspect(Context& ctx) {
  if (ctx.positionals().empty()) return ctx.UsageError("inspect needs at least one FILE or DIR");
  mime::InspectOptions options;
  int exit_code = kExitOk;
  auto inspect_file = [&](const std::string& path) {
    absl::StatusOr<std::string> raw = ctx.env().read_file(path);
    if (!raw.ok()) {
      ctx.err() << "error: cannot read " << path << ": " << raw.status().message() << "\n";
      exit_code = kExitRefused;
      return;
    }
    ctx.out() << mime::InspectJsonLine(path, *raw, options) << "\n";
  };
  for (const std::string& path : ctx.positionals()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec)) {
      inspect_file(path);
      continue;
    }
    // A directory: every regular file below it (Maildirs keep mail in cur/ and new/), sorted.
    std::vector<std::string> files;
    for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file(ec)) files.push_back(it->path().string());
    }
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) inspect_file(f);
  }
  return exit_code;
}

}  // namespace

std::vector<Command> InspectCommands() {
  return {Command{
      .name = "inspect",
      .usage = "inspect [--json] FILE|DIR...",
      .summary = "parse and classify .eml files offline, one JSON line each",
      .help = "Parses each file (each file of a directory) as the router would and prints one\n"
              "JSON line: file, message_id, subject, from, classification (normal, spam,\n"
              "auto_reply, bounce, list), reasons, in_reply_to, references, attachments,\n"
              "defects and more. A broken email is still reported (its defects say what is\n"
              "wrong); the exit code is 1 only when a file cannot be read.\n"
              "Example: postroomctl inspect ../shared/corpus/mikel-mail/spec/fixtures/emails/",
      .flags = {FlagSpec{.name = "json", .takes_value = false,
                         .help = "JSON lines (the only format; accepted for scripts)"}},
      .run = RunInspect}};
}

}  // namespace postroom::ctl

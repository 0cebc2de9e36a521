#pragma once

// Command-line parsing for postroomctl. Hand-written rather than absl::flags: absl flags are
// process-global and defined at namespace scope, so every subcommand's flags would be accepted
// by every other subcommand, and `-o yaml` (short flags with separate values), repeatable
// `-f A -f B` and flags after positionals (kubectl's habit) are not supported. This parser takes
// the flag set of one subcommand plus the global flags, and is pure (unit-tested).
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace postroom::ctl {

// One flag a command accepts.
struct FlagSpec {
  std::string name;         // Long name without dashes: "output".
  char short_name = 0;      // 'o' for -o; 0 for none.
  bool takes_value = true;  // false: a switch; "--tls" or "--tls=false".
  bool repeated = false;    // May be given several times (-f A -f B).
  std::string value_name;   // For help: "FILE".
  std::string help;
};

// The result of parsing: positionals in order and flag values by long name.
struct ParsedArgs {
  std::vector<std::string> positionals;
  std::map<std::string, std::vector<std::string>> values;  // Switches hold "true" or "false".

  bool Has(const std::string& name) const { return values.count(name) > 0; }
  // The last value given, or `fallback`.
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> GetAll(const std::string& name) const;
  // A switch: true when given without "=false".
  bool GetBool(const std::string& name) const;
};

// Parses `args` (no program name). Flags may come before, between and after positionals;
// "--" ends the flags. Forms: --name VALUE, --name=VALUE, -n VALUE, -nVALUE, -n=VALUE; "-" is a
// positional or a value (stdin). INVALID_ARGUMENT for an unknown flag, a missing value, a value
// given to a switch, or a non-repeatable flag given twice; the message names the flag.
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const std::vector<FlagSpec>& specs);

// The index in `args` of the first positional, skipping the flags in `specs` (and their
// values); -1 if there is none. INVALID_ARGUMENT for a flag not in `specs` before it. Used to
// find the subcommand before its own flags are known.
absl::StatusOr<int> FindFirstPositional(const std::vector<std::string>& args,
                                        const std::vector<FlagSpec>& specs);

// Help lines for `specs`, one per flag: "  -o, --output FORMAT   table|json|yaml|name".
std::string FlagHelp(const std::vector<FlagSpec>& specs);

}  // namespace postroom::ctl

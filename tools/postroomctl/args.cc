#include "tools/postroomctl/args.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace postroom::ctl {
namespace {

const FlagSpec* FindLong(const std::vector<FlagSpec>& specs, const std::string& name) {
  for (const FlagSpec& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const FlagSpec* FindShort(const std::vector<FlagSpec>& specs, char c) {
  for (const FlagSpec& s : specs) {
    if (s.short_name != 0 && s.short_name == c) return &s;
  }
  return nullptr;
}

std::string Display(const FlagSpec& spec) { return absl::StrCat("--", spec.name); }

// Parses one flag token at args[*i]; advances *i past its value when the value is separate.
absl::Status ParseFlag(const std::vector<std::string>& args, size_t* i,
                       const std::vector<FlagSpec>& specs, ParsedArgs* out) {
  const std::string& arg = args[*i];
  const FlagSpec* spec = nullptr;
  std::string value;
  bool has_inline_value = false;
  if (absl::StartsWith(arg, "--")) {
    std::string name = arg.substr(2);
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_inline_value = true;
    }
    spec = FindLong(specs, name);
    if (spec == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
  } else {
    spec = FindShort(specs, arg[1]);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag -", std::string(1, arg[1])));
    }
    if (arg.size() > 2) {
      value = arg.substr(arg[2] == '=' ? 3 : 2);
      has_inline_value = true;
    }
  }
  if (!spec->takes_value) {
    if (has_inline_value && value != "true" && value != "false") {
      return absl::InvalidArgumentError(
          absl::StrCat("flag ", Display(*spec), " is a switch: give it alone or =true/=false"));
    }
    if (!has_inline_value) value = "true";
  } else if (!has_inline_value) {
    if (*i + 1 >= args.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag ", Display(*spec), " needs a value (", spec->value_name, ")"));
    }
    value = args[++*i];
  }
  std::vector<std::string>& values = out->values[spec->name];
  if (!values.empty() && !spec->repeated) {
    return absl::InvalidArgumentError(absl::StrCat("flag ", Display(*spec), " given twice"));
  }
  values.push_back(value);
  return absl::OkStatus();
}

bool IsFlagToken(const std::string& arg) { return arg.size() > 1 && arg[0] == '-'; }

}  // namespace

std::string ParsedArgs::Get(const std::string& name, const std::string& fallback) const {
  auto it = values.find(name);
  return it == values.end() || it->second.empty() ? fallback : it->second.back();
}

std::vector<std::string> ParsedArgs::GetAll(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() ? std::vector<std::string>{} : it->second;
}

bool ParsedArgs::GetBool(const std::string& name) const { return Get(name, "false") == "true"; }

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const std::vector<FlagSpec>& specs) {
  ParsedArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") {
      out.positionals.insert(out.positionals.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (!IsFlagToken(args[i])) {
      out.positionals.push_back(args[i]);
      continue;
    }
    if (absl::Status st = ParseFlag(args, &i, specs, &out); !st.ok()) return st;
  }
  return out;
}

absl::StatusOr<int> FindFirstPositional(const std::vector<std::string>& args,
                                        const std::vector<FlagSpec>& specs) {
  ParsedArgs scratch;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") return i + 1 < args.size() ? static_cast<int>(i + 1) : -1;
    if (!IsFlagToken(args[i])) return static_cast<int>(i);
    scratch.values.clear();
    if (absl::Status st = ParseFlag(args, &i, specs, &scratch); !st.ok()) return st;
  }
  return -1;
}

std::string FlagHelp(const std::vector<FlagSpec>& specs) {
  std::vector<std::pair<std::string, std::string>> rows;
  size_t width = 0;
  for (const FlagSpec& s : specs) {
    std::string left =
        s.short_name != 0 ? absl::StrCat("-", std::string(1, s.short_name), ", ") : "    ";
    absl::StrAppend(&left, "--", s.name);
    if (s.takes_value) absl::StrAppend(&left, " ", s.value_name.empty() ? "VALUE" : s.value_name);
    width = std::max(width, left.size());
    rows.emplace_back(left, s.help);
  }
  std::string out;
  for (const auto& [left, help] : rows) {
    absl::StrAppend(&out, "  ", left, std::string(width - left.size() + 3, ' '), help, "\n");
  }
  return out;
}

}  // namespace postroom::ctl

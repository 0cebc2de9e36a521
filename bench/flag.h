#pragma once

// Command-line flags of the benchmark programs: `--name value` pairs, nothing more.
#include <string>

namespace postroom::bench {

// The value after `--name`, or `fallback` when the flag is absent.
inline std::string Flag(int argc, char** argv, const char* name, const char* fallback) {
  const std::string flag = std::string("--") + name;
  for (int i = 1; i + 1 < argc; ++i) {
    if (flag == argv[i]) return argv[i + 1];
  }
  return fallback;
}

}  // namespace postroom::bench

#pragma once

// The benchmark programs' mail: a Maildir's messages read into memory once.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace postroom::bench {

// The first `max_files` messages (by file name) of `dir`/cur, else `dir`/new, else `dir`
// itself; empty when there are none.
inline std::vector<std::string> LoadMaildir(const std::string& dir, size_t max_files) {
  std::vector<std::string> paths;
  for (const char* sub : {"cur", "new", ""}) {
    std::filesystem::path p = std::filesystem::path(dir) / sub;
    if (!std::filesystem::is_directory(p)) continue;
    for (const auto& e : std::filesystem::directory_iterator(p)) {
      if (e.is_regular_file()) paths.push_back(e.path().string());
    }
    if (!paths.empty()) break;
  }
  std::sort(paths.begin(), paths.end());
  if (paths.size() > max_files) paths.resize(max_files);
  std::vector<std::string> mails;
  for (const std::string& p : paths) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    mails.push_back(ss.str());
  }
  return mails;
}

}  // namespace postroom::bench

// Parse + classify throughput of libs/mime over every file of a Maildir (DIR, DIR/cur and
// DIR/new), for comparison with the GMime C walker (run.sh runs both).
// Usage: bench_inspect [--threads N] [--json] DIR
//   Prints: mime messages=N bytes=B seconds=S MB/s=X msgs/s=Y defects=D kinds=...
//   --json builds the inspect JSON line of each message instead (postroomctl inspect's cost;
//   no per-kind counts then).
// Timing includes reading each file (as gmime_walk does), not listing the directory.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "libs/mime/classify.h"
#include "libs/mime/inspect.h"
#include "libs/mime/parser.h"

namespace {

void ListFiles(const std::string& dir, std::vector<std::string>& out) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string path = dir + "/" + e->d_name;
    struct stat st;
    if (stat(path.c_str(), &st) != 0) continue;
    if (S_ISREG(st.st_mode)) out.push_back(path);
  }
  closedir(d);
}

bool ReadFile(const std::string& path, std::string& data) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return false;
  }
  data.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = read(fd, data.data() + got, data.size() - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  close(fd);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  bool json = false;
  std::string dir;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else {
      dir = argv[i];
    }
  }
  if (dir.empty()) {
    std::fprintf(stderr, "usage: %s [--threads N] [--json] MAILDIR\n", argv[0]);
    return 2;
  }
  std::vector<std::string> files;
  ListFiles(dir, files);
  ListFiles(dir + "/cur", files);
  ListFiles(dir + "/new", files);
  if (files.empty()) {
    std::fprintf(stderr, "bench_inspect: no files in %s (nor in its cur/ and new/)\n", dir.c_str());
    return 1;
  }

  std::atomic<size_t> next{0};
  std::atomic<long> bytes{0}, defects{0}, failures{0}, json_bytes{0};
  std::mutex mu;
  std::map<std::string, long> kinds;
  auto work = [&] {
    std::string data;
    std::map<std::string, long> local;
    postroom::mime::InspectOptions options;
    for (size_t i = next++; i < files.size(); i = next++) {
      if (!ReadFile(files[i], data)) continue;
      bytes += static_cast<long>(data.size());
      if (json) {
        // What `postroomctl inspect --json` does per file: parse, classify, format.
        json_bytes +=
            static_cast<long>(postroom::mime::InspectJsonLine(files[i], data, options).size());
        continue;
      }
      absl::StatusOr<postroom::mime::ParsedMessage> m = postroom::mime::ParseMessage(data);
      if (!m.ok()) {
        ++failures;
        continue;
      }
      defects += static_cast<long>(m->defects.size());
      postroom::mime::Classification c = postroom::mime::Classify(*m);
      ++local[postroom::mime::MessageKindName(c.kind)];
    }
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [k, v] : local) kinds[k] += v;
  };
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::string kind_text;
  for (auto& [k, v] : kinds) kind_text += k + "=" + std::to_string(v) + " ";
  std::printf(
      "mime messages=%zu bytes=%ld seconds=%.3f MB/s=%.1f msgs/s=%.1f threads=%d json=%d "
      "failures=%ld defects=%ld %s\n",
      files.size(), bytes.load(), dt, bytes.load() / dt / 1e6, files.size() / dt, threads,
      json ? 1 : 0, failures.load(), defects.load(), kind_text.c_str());
  return failures.load() == 0 ? 0 : 1;
}

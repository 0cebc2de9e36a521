// Every corpus message through ListAttachments and GetAttachment (PostgreSQL, gRPC), then
// compared with what Python's `email` package decodes from the same file
// (attachments_python_compare.py): the bytes by SHA-256, in order. Differences the script
// does not find in attachments_python_accepted.tsv (each with its reason) fail the test.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/router/tests/attachments_fixture.h"

namespace postroom::router::testing {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A JSON string literal: the script reads the lines with json.loads.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);  // Bytes as Latin-1 code points.
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

class AttachmentsCorpusPgTest : public AttachmentsFixture {};

TEST_F(AttachmentsCorpusPgTest, MatchesPythonEmailOnTheCorpus) {
  const std::string source = Env("POSTROOM_SOURCE_DIR");
  std::string corpus = Env("POSTROOM_CORPUS_DIR");
  if (corpus.empty()) corpus = source + "/../shared/corpus";
  ASSERT_TRUE(std::filesystem::exists(corpus + "/MANIFEST.tsv"))
      << "corpus not found at " << corpus << ": set POSTROOM_CORPUS_DIR";
  const std::string out_path =
      (std::filesystem::temp_directory_path() / absl::StrCat("postroom-att-", getpid(), ".jsonl"))
          .string();
  std::ofstream out(out_path, std::ios::binary);
  std::ifstream manifest(corpus + "/MANIFEST.tsv");
  std::string line;
  std::getline(manifest, line);  // The header.
  int messages = 0, attachments = 0;
  while (std::getline(manifest, line)) {
    std::vector<std::string> cells = absl::StrSplit(line, '\t');
    const std::string& path = cells[0];
    if (absl::EndsWith(path, ".json") || absl::EndsWith(path, "_reply_text") ||
        absl::EndsWith(path, "EXPECTED.tsv")) {
      continue;
    }
    std::string raw = ReadAll(corpus + "/" + path);
    if (raw.empty()) continue;
    int64_t id = Store(raw, path);
    v1::ListAttachmentsResponse list;
    grpc::Status st = List(id, &list);
    ASSERT_TRUE(st.ok()) << path << ": " << st.error_message();
    ++messages;
    out << "{\"file\":" << Quote(path) << ",\"attachments\":[";
    for (const v1::Attachment& a : list.attachments()) {
      // What GetAttachment streams must be what ListAttachments described.
      Download d = GetAttachment(id, a.index());
      ASSERT_TRUE(d.status.ok()) << path << " #" << a.index() << ": " << d.status.error_message();
      EXPECT_EQ(Sha256Hex(d.bytes), a.sha256()) << path << " #" << a.index();
      EXPECT_EQ(d.bytes.size(), a.size()) << path << " #" << a.index();
      out << (a.index() == 0 ? "" : ",") << "{\"index\":" << a.index()
          << ",\"content_type\":" << Quote(a.content_type()) << ",\"filename\":"
          << Quote(a.filename()) << ",\"size\":" << a.size() << ",\"sha256\":"
          << Quote(Sha256Hex(d.bytes)) << "}";
      ++attachments;
    }
    out << "]}\n";
  }
  out.close();
  EXPECT_GT(messages, 1000);
  std::printf("%d messages, %d attachments listed and streamed\n", messages, attachments);
  const std::string script = source + "/services/router/tests/attachments_python_compare.py";
  const std::string accepted = source + "/services/router/tests/attachments_python_accepted.tsv";
  const std::string command =
      absl::StrCat("python3 '", script, "' '", corpus, "' '", out_path, "' '", accepted, "'");
  int rc = std::system(command.c_str());
  EXPECT_EQ(rc, 0) << "the Python comparison found differences not accepted (above): "
                   << command;
  if (rc == 0) std::remove(out_path.c_str());
}

}  // namespace
}  // namespace postroom::router::testing

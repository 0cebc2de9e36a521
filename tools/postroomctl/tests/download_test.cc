// `get attachments` and `download attachment|message` through the real gRPC layer against an
// in-process fake RouterService, writing real files in a temporary folder.
#include "tools/postroomctl/download.h"

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "postroom/v1/router.grpc.pb.h"

namespace postroom::ctl {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(SafeFileName, KeepsOrdinaryNamesAndUtf8) {
  EXPECT_EQ(SafeFileName("invoice 2026.pdf", 0), "invoice 2026.pdf");
  EXPECT_EQ(SafeFileName("r\xc3\xa9sum\xc3\xa9.zip", 0), "r\xc3\xa9sum\xc3\xa9.zip");
}

TEST(SafeFileName, NoPathSeparatorsOrParentFolders) {
  EXPECT_EQ(SafeFileName("../../etc/passwd", 1), "_.._etc_passwd");
  EXPECT_EQ(SafeFileName("C:\\Windows\\evil.dll", 1), "C:_Windows_evil.dll");
  EXPECT_EQ(SafeFileName("/abs", 1), "_abs");
  EXPECT_EQ(SafeFileName("..", 4), "attachment-4.bin");
  EXPECT_EQ(SafeFileName(".bashrc", 4), "bashrc");
}

TEST(SafeFileName, NoControlCharactersOrBidiOverrides) {
  EXPECT_EQ(SafeFileName("a\x1b]0;title\x07" "b.txt", 0), "a]0;titleb.txt");
  EXPECT_EQ(SafeFileName("line\nbreak\r.txt", 0), "linebreak.txt");
  EXPECT_EQ(SafeFileName("x\xc2\x9b" "1.txt", 0), "x1.txt");          // C1 CSI
  EXPECT_EQ(SafeFileName("\xe2\x80\xae" "fdp.exe", 0), "fdp.exe");   // U+202E
  EXPECT_EQ(SafeFileName("bad\xff\xfe.bin", 0), "bad__.bin");         // Not UTF-8.
}

TEST(SafeFileName, EmptyOrBlankFallsBackToTheIndex) {
  EXPECT_EQ(SafeFileName("", 7), "attachment-7.bin");
  EXPECT_EQ(SafeFileName("  . . ", 7), "attachment-7.bin");
  EXPECT_EQ(SafeFileName("\x01\x02", 2), "attachment-2.bin");
}

TEST(SafeFileName, LongNamesAreCutKeepingTheExtension) {
  std::string name = std::string(1000, 'a') + ".pdf";
  std::string safe = SafeFileName(name, 0);
  EXPECT_EQ(safe.size(), 200u);
  EXPECT_EQ(safe.substr(safe.size() - 4), ".pdf");
  // Multi-byte characters are never split.
  std::string wide;
  for (int i = 0; i < 300; ++i) wide += "\xc3\xa9";
  safe = SafeFileName(wide, 0);
  EXPECT_LE(safe.size(), 200u);
  EXPECT_EQ(safe.size() % 2, 0u);
  // A 100,000-byte name costs no more than a bounded copy.
  EXPECT_LE(SafeFileName(std::string(100000, 'x'), 0).size(), 200u);
}

class FakeRouter final : public v1::RouterService::Service {
 public:
  std::string name = "report.pdf";
  std::string bytes;
  bool fail_midway = false;
  v1::WorkItem work_item;  // Merged into GetWorkItem's answer: body, new text, template.

  grpc::Status ListAttachments(grpc::ServerContext*, const v1::ListAttachmentsRequest* req,
                               v1::ListAttachmentsResponse* resp) override {
    if (req->message_id() != 42) return {grpc::StatusCode::NOT_FOUND, "message 9 does not exist"};
    v1::Attachment* a = resp->add_attachments();
    a->set_index(0);
    a->set_filename(name);
    a->set_content_type("application/pdf");
    a->set_size(bytes.size());
    a->set_sha256("0123456789abcdef");
    return grpc::Status::OK;
  }
  grpc::Status GetAttachment(grpc::ServerContext*, const v1::GetAttachmentRequest* req,
                             grpc::ServerWriter<v1::DataChunk>* writer) override {
    if (req->index() != 0) return {grpc::StatusCode::NOT_FOUND, "index: no attachment 3"};
    v1::Attachment a;
    a.set_filename(name);
    return Send(writer, &a);
  }
  grpc::Status GetWorkItem(grpc::ServerContext*, const v1::GetWorkItemRequest*,
                           v1::GetWorkItemResponse* resp) override {
    v1::WorkItem* w = resp->mutable_work_item();
    w->set_id(5);
    w->set_reference("SUP-5");
    v1::Attachment* a = w->add_attachments();
    a->set_filename(name);
    a->set_message_id(42);
    a->set_index(1);
    v1::Attachment* eml = w->add_attachments();
    eml->set_filename("original.eml");
    eml->set_message_id(42);
    eml->set_original_eml(true);
    w->MergeFrom(work_item);
    return grpc::Status::OK;
  }
  grpc::Status GetRawMessage(grpc::ServerContext*, const v1::GetRawMessageRequest*,
                             grpc::ServerWriter<v1::DataChunk>* writer) override {
    return Send(writer, nullptr);
  }

 private:
  grpc::Status Send(grpc::ServerWriter<v1::DataChunk>* writer, const v1::Attachment* first) {
    for (size_t at = 0; at < bytes.size() || at == 0; at += 1000) {
      v1::DataChunk c;
      if (at == 0 && first != nullptr) *c.mutable_attachment() = *first;
      c.set_data(bytes.substr(at, 1000));
      writer->Write(c);
      if (fail_midway && at > 0) return {grpc::StatusCode::INTERNAL, "the router stopped"};
    }
    return grpc::Status::OK;
  }
};

class DownloadTest : public ::testing::Test {
 protected:
  DownloadTest() {
    grpc::ServerBuilder builder;
    builder.RegisterService(&router_);
    server_ = builder.BuildAndStart();
    channel_ = server_->InProcessChannel(grpc::ChannelArguments());
    dir_ = fs::temp_directory_path() / absl::StrCat("postroomctl-download-", getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    old_cwd_ = fs::current_path();
    fs::current_path(dir_);
    for (int i = 0; i < 5000; ++i) router_.bytes += static_cast<char>(i * 7);
  }
  ~DownloadTest() override {
    fs::current_path(old_cwd_);
    fs::remove_all(dir_);
    server_->Shutdown();
  }

  struct Result {
    int code;
    std::string out, err;
  };
  Result Run(std::vector<std::string> args) {
    std::istringstream in;
    std::ostringstream out, err;
    Environment env;
    env.in = &in;
    env.out = &out;
    env.err = &err;
    env.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    env.read_file = [](const std::string& p) -> absl::StatusOr<std::string> {
      return absl::NotFoundError(p);
    };
    env.clock = &clock_;
    env.open_channel = [this](const std::string&, const ConnectionOptions&)
        -> absl::StatusOr<std::shared_ptr<grpc::ChannelInterface>> { return channel_; };
    int code = ctl::Run(args, env);
    return {code, out.str(), err.str()};
  }
  static std::string Read(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  std::vector<std::string> Files() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  FakeRouter router_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  fs::path dir_, old_cwd_;
  FakeClock clock_;
};

TEST_F(DownloadTest, SavesUnderTheAttachmentsSafeNameExactly) {
  router_.name = "/secret/\x1b[2Jreport.pdf";
  Result r = Run({"download", "attachment", "42", "0"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Files(), std::vector<std::string>{"_secret_[2Jreport.pdf"});
  EXPECT_TRUE(Read(dir_ / "_secret_[2Jreport.pdf") == router_.bytes);
  EXPECT_THAT(r.out, HasSubstr("(5000 bytes)"));
}

TEST_F(DownloadTest, NeverOverwritesWithoutForce) {
  { std::ofstream(dir_ / "report.pdf") << "mine"; }
  Result r = Run({"download", "attachment", "42", "0"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("report.pdf exists; add --force"));
  EXPECT_EQ(Read(dir_ / "report.pdf"), "mine");
  EXPECT_EQ(Files(), std::vector<std::string>{"report.pdf"});  // No temporary left.

  r = Run({"download", "attachment", "42", "0", "--force"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Read(dir_ / "report.pdf") == router_.bytes);
}

TEST_F(DownloadTest, OutputFileOrFolder) {
  fs::create_directories(dir_ / "sub");
  ASSERT_EQ(Run({"download", "attachment", "42", "0", "-o", "x.bin"}).code, 0);
  EXPECT_TRUE(Read(dir_ / "x.bin") == router_.bytes);
  ASSERT_EQ(Run({"download", "message", "42", "-o", "sub"}).code, 0);
  EXPECT_TRUE(Read(dir_ / "sub" / "message-42.eml") == router_.bytes);
  ASSERT_EQ(Run({"download", "message", "42"}).code, 0);
  EXPECT_TRUE(fs::exists(dir_ / "message-42.eml"));
}

TEST_F(DownloadTest, AStreamErrorLeavesNoFile) {
  router_.fail_midway = true;
  Result r = Run({"download", "attachment", "42", "0"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("the router stopped"));
  EXPECT_TRUE(Files().empty());
}

TEST_F(DownloadTest, ServerErrorsAndBadArguments) {
  Result r = Run({"download", "attachment", "42", "3"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
  EXPECT_TRUE(Files().empty());
  EXPECT_EQ(Run({"download", "attachment", "x", "0"}).code, 2);
  EXPECT_EQ(Run({"download", "attachment", "42", "-1"}).code, 2);
  EXPECT_EQ(Run({"download", "message"}).code, 2);
}

TEST_F(DownloadTest, GetAttachmentsTableAndJson) {
  Result r = Run({"get", "attachments", "42"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("INDEX"));
  EXPECT_THAT(r.out, HasSubstr("report.pdf"));
  EXPECT_THAT(r.out, HasSubstr("0123456789ab"));
  r = Run({"get", "attachments", "42", "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"sha256\": \"0123456789abcdef\""));
  EXPECT_EQ(Run({"get", "attachments", "9"}).code, 1);
}

TEST_F(DownloadTest, DescribeWorkItemSaysHowToFetchEachAttachment) {
  Result r = Run({"describe", "work-item", "5"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("report.pdf ("));
  EXPECT_THAT(r.out, HasSubstr("download attachment 42 1\n"));
  EXPECT_THAT(r.out, HasSubstr("original.eml ("));
  EXPECT_THAT(r.out, HasSubstr("download message 42\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("New text:")));  // None kept: nothing to say.
  EXPECT_THAT(r.out, Not(HasSubstr("Template:")));
}

TEST_F(DownloadTest, DescribeWorkItemShowsTheNewTextAndWhetherItIsTheBody) {
  router_.work_item.set_body("Works now.\n\nOn Mon, Support wrote:\n> Restart it.\n");
  router_.work_item.set_new_text("Works now.");
  router_.work_item.set_template_("incident-form");
  Result r = Run({"describe", "work-item", "5"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Template:   incident-form\n"));
  EXPECT_THAT(r.out, HasSubstr("New text:   (differs from the body: quoted history or "
                               "signature left out)\n  Works now.\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("Restart it")));

  router_.work_item.set_body("Printer on fire.\n");
  router_.work_item.set_new_text("Printer on fire.");
  r = Run({"describe", "work-item", "5"});
  EXPECT_THAT(r.out, HasSubstr("New text:   (the whole body)\n  Printer on fire.\n"));

  // A long one stops on the terminal and says where the rest is.
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += absl::StrCat("line ", i, "\n");
  router_.work_item.set_new_text(long_text);
  r = Run({"describe", "work-item", "5"});
  EXPECT_THAT(r.out, HasSubstr("  line 39\n  ... 60 more lines (-o json shows all)\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("line 40\n")));
  r = Run({"describe", "work-item", "5", "-o", "json"});
  EXPECT_THAT(r.out, HasSubstr("line 99"));
  EXPECT_THAT(r.out, HasSubstr("\"template\": \"incident-form\""));
}

}  // namespace
}  // namespace postroom::ctl

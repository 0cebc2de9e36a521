#include "tools/postroomctl/download.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tools/postroomctl/printers.h"

namespace postroom::ctl {
namespace {

constexpr size_t kMaxNameBytes = 200;
constexpr size_t kMaxExtensionBytes = 16;

// Length of the UTF-8 sequence starting at s[i] and its code point; 0 when it is not one.
size_t Utf8At(std::string_view s, size_t i, uint32_t* cp) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  uint32_t v = n == 1 ? c : c & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    const unsigned char d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xc0) != 0x80) return 0;
    v = (v << 6) | (d & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
  *cp = v;
  return n;
}

bool Dropped(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

// Cuts `s` to at most `max` bytes without splitting a character (s is valid UTF-8 here).
std::string CutUtf8(std::string s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
  s.resize(n);
  return s;
}

bool Trimmable(char c) { return c == '.' || c == ' '; }

}  // namespace

std::string SafeFileName(std::string_view name, uint32_t index) {
  std::string out;
  // Linear in the name, which the gRPC message size bounds; cut to size at the end so the
  // extension is kept.
  for (size_t i = 0; i < name.size();) {
    uint32_t cp = 0;
    size_t n = Utf8At(name, i, &cp);
    if (n == 0) {
      out += '_';
      ++i;
      continue;
    }
    if (cp == '/' || cp == '\\') {
      out += '_';
    } else if (!Dropped(cp)) {
      out.append(name.substr(i, n));
    }
    i += n;
  }
  size_t start = 0, end = out.size();
  while (start < end && Trimmable(out[start])) ++start;
  while (end > start && Trimmable(out[end - 1])) --end;
  out = out.substr(start, end - start);
  if (out.size() > kMaxNameBytes) {
    size_t dot = out.rfind('.');
    std::string ext = dot != std::string::npos && out.size() - dot <= kMaxExtensionBytes
                          ? out.substr(dot)
                          : std::string();
    out = CutUtf8(out.substr(0, out.size() - ext.size()), kMaxNameBytes - ext.size()) + ext;
  }
  if (out.empty()) return absl::StrCat("attachment-", index, ".bin");
  return out;
}

namespace {

using Stub = v1::RouterService::StubInterface;
using Reader = grpc::ClientReaderInterface<v1::DataChunk>;

void Prepare(Context& ctx, grpc::ClientContext& call) {
  call.set_deadline(absl::ToChronoTime(absl::Now() + ctx.call_options().timeout));
  if (!ctx.call_options().token.empty()) {
    call.AddMetadata("authorization", absl::StrCat("Bearer ", ctx.call_options().token));
  }
}

// A file written beside its target and moved into place only when complete, so an error or
// an interrupted stream never leaves a half-written file under the target's name.
class PendingFile {
 public:
  ~PendingFile() {
    if (fd_ >= 0) close(fd_);
    if (!temp_.empty()) unlink(temp_.c_str());
  }
  absl::Status Open(const std::string& target) {
    target_ = target;
    std::filesystem::path t(target);
    temp_ = (t.parent_path() / absl::StrCat(".", t.filename().string(), ".part-", getpid()))
                .string();
    fd_ = open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      std::string why = std::strerror(errno);
      temp_.clear();
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create a file beside ", target, ": ", why));
    }
    return absl::OkStatus();
  }
  absl::Status Write(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("cannot write ", target_, ": ", std::strerror(errno)));
      }
      bytes.remove_prefix(static_cast<size_t>(n));
      written_ += static_cast<uint64_t>(n);
    }
    return absl::OkStatus();
  }
  // Moves the file into place; without `force`, never over an existing file (link fails
  // with EEXIST even when one appeared since the check).
  absl::Status Commit(bool force) {
    if (close(fd_) != 0) {
      fd_ = -1;
      return absl::FailedPreconditionError(absl::StrCat("cannot write ", target_));
    }
    fd_ = -1;
    int rc = force ? rename(temp_.c_str(), target_.c_str()) : link(temp_.c_str(), target_.c_str());
    if (rc != 0) {
      if (errno == EEXIST) return Exists(target_);
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create ", target_, ": ", std::strerror(errno)));
    }
    if (force) temp_.clear();
    return absl::OkStatus();
  }
  uint64_t written() const { return written_; }

  static absl::Status Exists(const std::string& target) {
    return absl::AlreadyExistsError(absl::StrCat(
        target, " exists; add --force to overwrite it, or choose another name with -o FILE"));
  }

 private:
  std::string target_, temp_;
  int fd_ = -1;
  uint64_t written_ = 0;
};

// -o FILE as given; -o DIR (or none: the current folder) plus the default name.
std::string TargetPath(Context& ctx, const std::string& default_name) {
  std::string o = ctx.args().Get("output");
  std::error_code ec;
  if (o.empty()) return default_name;
  if (std::filesystem::is_directory(o, ec)) return (std::filesystem::path(o) / default_name).string();
  return o;
}

// Reads the stream into the target file; `name_of` gives the default name from the first
// chunk. Prints what was saved.
int Save(Context& ctx, grpc::ClientContext& call, Reader& reader,
         const std::function<std::string(const v1::DataChunk&)>& name_of,
         const std::string& what) {
  v1::DataChunk chunk;
  if (!reader.Read(&chunk)) return RouterError(ctx, FromGrpc(reader.Finish()));
  const std::string target = TargetPath(ctx, name_of(chunk));
  const bool force = ctx.args().Get("force") == "true";
  std::error_code ec;
  absl::Status st;
  if (!force && std::filesystem::exists(std::filesystem::symlink_status(target, ec))) {
    st = PendingFile::Exists(target);
  }
  PendingFile file;
  if (st.ok()) st = file.Open(target);
  while (st.ok()) {
    st = file.Write(chunk.data());
    if (st.ok() && !reader.Read(&chunk)) break;
  }
  if (!st.ok()) {
    call.TryCancel();
    reader.Finish();
    ctx.err() << "error: " << st.message() << "\n";
    return kExitRefused;
  }
  absl::Status done = FromGrpc(reader.Finish());
  if (!done.ok()) return RouterError(ctx, done);  // Nothing is left behind: the file is removed.
  st = file.Commit(force);
  if (!st.ok()) {
    ctx.err() << "error: " << st.message() << "\n";
    return kExitRefused;
  }
  ctx.out() << "saved " << what << " to " << target << " (" << file.written() << " bytes)\n";
  return kExitOk;
}

bool ParseId(const std::string& text, int64_t* id) {
  return absl::SimpleAtoi(text, id) && *id > 0;
}

int RunDownload(Context& ctx) {
  const auto& p = ctx.positionals();
  const bool attachment = !p.empty() && p[0] == "attachment";
  const bool message = !p.empty() && p[0] == "message";
  if (!(attachment && p.size() == 3) && !(message && p.size() == 2)) {
    return ctx.UsageError(
        "use: download attachment MESSAGE_ID INDEX, or download message MESSAGE_ID");
  }
  int64_t id = 0;
  if (!ParseId(p[1], &id)) {
    return ctx.UsageError(absl::StrCat("MESSAGE_ID: expected a message id (a number above 0), "
                                       "got \"", p[1], "\""));
  }
  absl::StatusOr<std::unique_ptr<Stub>> stub = RouterStub(ctx);
  if (!stub.ok()) return RouterError(ctx, stub.status());
  grpc::ClientContext call;
  Prepare(ctx, call);
  if (message) {
    v1::GetRawMessageRequest req;
    req.set_message_id(id);
    std::unique_ptr<Reader> reader = (*stub)->GetRawMessage(&call, req);
    return Save(
        ctx, call, *reader, [id](const v1::DataChunk&) { return absl::StrCat("message-", id, ".eml"); },
        absl::StrCat("message ", id));
  }
  uint32_t index = 0;
  if (!absl::SimpleAtoi(p[2], &index)) {
    return ctx.UsageError(
        absl::StrCat("INDEX: expected an attachment index (0, 1, ...: get attachments ", id,
                     " lists them), got \"", p[2], "\""));
  }
  v1::GetAttachmentRequest req;
  req.set_message_id(id);
  req.set_index(index);
  std::unique_ptr<Reader> reader = (*stub)->GetAttachment(&call, req);
  return Save(
      ctx, call, *reader,
      [index](const v1::DataChunk& first) {
        return SafeFileName(first.attachment().filename(), index);
      },
      absl::StrCat("attachment ", index, " of message ", id));
}

}  // namespace

int GetAttachments(Context& ctx, const std::string& message_id) {
  int64_t id = 0;
  if (!ParseId(message_id, &id)) {
    return ctx.UsageError(absl::StrCat(
        "MESSAGE_ID: expected a message id (a number above 0), got \"", message_id, "\""));
  }
  absl::StatusOr<std::unique_ptr<Stub>> stub = RouterStub(ctx);
  if (!stub.ok()) return RouterError(ctx, stub.status());
  v1::ListAttachmentsRequest req;
  req.set_message_id(id);
  absl::StatusOr<v1::ListAttachmentsResponse> r =
      Call(**stub, &Stub::ListAttachments, req, ctx.call_options());
  if (!r.ok()) return RouterError(ctx, r.status());
  if (ctx.args().Get("output") == "json") {
    ctx.out() << Json(*r);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const v1::Attachment& a : r->attachments()) {
    rows.push_back({absl::StrCat(a.index()), a.filename().empty() ? "-" : a.filename(),
                    a.content_type(), absl::StrCat(a.size()),
                    a.is_inline() ? "inline" : "attachment",
                    a.content_id().empty() ? "-" : a.content_id(), a.sha256().substr(0, 12)});
  }
  ctx.out() << FormatTable({"INDEX", "FILENAME", "TYPE", "SIZE", "SHOWN", "CONTENT-ID", "SHA256"},
                           rows);
  return kExitOk;
}

Command DownloadCommand() {
  return Command{
      .name = "download",
      .usage = "download attachment MESSAGE_ID INDEX [-o FILE|DIR] [--force] | "
               "download message MESSAGE_ID [-o FILE|DIR] [--force]",
      .summary = "save a stored message's attachment (decoded) or its raw .eml to a file",
      .help = "The router streams the bytes; the file appears under its name only once complete.\n"
              "Without -o an attachment is saved under its own file name made safe (no path\n"
              "separators, no control characters; attachment-INDEX.bin when nothing is left),\n"
              "a message as message-ID.eml, in the current folder (or in DIR). An existing\n"
              "file is never overwritten without --force. `get attachments ID` lists INDEX.\n\n"
              "Examples:\n"
              "  postroomctl get attachments 42\n"
              "  postroomctl download attachment 42 1\n"
              "  postroomctl download attachment 42 1 -o invoice.pdf --force\n"
              "  postroomctl download message 42 -o /tmp/\n",
      .flags = {{"output", 'o', true, false, "FILE|DIR", "where to save (default: its own name)"},
                {"force", 0, false, false, "", "overwrite an existing file"}},
      .run = RunDownload,
      .kinds = {"attachment", "message"}};
}

}  // namespace postroom::ctl

// The sender commands: the outbox kinds of `get` (outbox, suppressions), `describe` (outbox ID)
// and `delete` (suppression ADDRESS), which wrap the other kinds of those commands,
// `retry outbox ID` and `reply WORK_ITEM`.
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "postroom/v1/sender.grpc.pb.h"
#include "tools/postroomctl/command.h"
#include "tools/postroomctl/printers.h"

namespace postroom::ctl {

void AddSenderCommands(std::vector<Command>& commands);

namespace {

using Stub = v1::SenderService::StubInterface;

template <typename Request, typename Response>
absl::StatusOr<Response> CallSender(Context& ctx,
                                    grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                                 const Request&, Response*),
                                    const Request& request) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelInterface>> channel =
      ctx.env().open_channel(ctx.connection().sender_addr, ctx.connection());
  if (!channel.ok()) return channel.status();
  std::unique_ptr<Stub> stub = v1::SenderService::NewStub(*channel);
  return Call(*stub, method, request, ctx.call_options());
}

int SenderError(Context& ctx, const absl::Status& status) {
  ctx.err() << FormatError(status, "sender", ctx.connection().sender_addr) << "\n";
  return ExitCodeFor(status);
}

std::string StateName(v1::OutboxState s) {
  switch (s) {
    case v1::OUTBOX_STATE_QUEUED:
      return "queued";
    case v1::OUTBOX_STATE_SENDING:
      return "sending";
    case v1::OUTBOX_STATE_SENT:
      return "sent";
    case v1::OUTBOX_STATE_FAILED:
      return "failed";
    case v1::OUTBOX_STATE_CANCELLED:
      return "cancelled";
    case v1::OUTBOX_STATE_BOUNCED:
      return "bounced";
    case v1::OUTBOX_STATE_SUPPRESSED:
      return "suppressed";
    default:
      return "?";
  }
}

bool ParseState(const std::string& s, v1::OutboxState* out) {
  for (v1::OutboxState st :
       {v1::OUTBOX_STATE_QUEUED, v1::OUTBOX_STATE_SENT, v1::OUTBOX_STATE_FAILED,
        v1::OUTBOX_STATE_CANCELLED, v1::OUTBOX_STATE_BOUNCED, v1::OUTBOX_STATE_SUPPRESSED}) {
    if (s == StateName(st)) {
      *out = st;
      return true;
    }
  }
  return false;
}

std::string When(int64_t unix_ms, absl::Time now) {
  if (unix_ms == 0) return "-";
  absl::Duration d = absl::FromUnixMillis(unix_ms) - now;
  return d <= absl::ZeroDuration() ? absl::StrCat(FormatAge(-d), " ago")
                                   : absl::StrCat("in ", FormatAge(d));
}

int GetOutbox(Context& ctx) {
  v1::ListOutboxRequest req;
  req.set_connector(ctx.args().Get("connector"));
  const std::string state = ctx.args().Get("state");
  if (!state.empty()) {
    v1::OutboxState st;
    if (!ParseState(state, &st)) {
      return ctx.UsageError(
          absl::StrCat("unknown state \"", state,
                       "\"; use queued, sent, failed, cancelled, bounced or suppressed"));
    }
    req.set_state(st);
  }
  int limit = 0;
  if (ctx.args().Has("limit") && absl::SimpleAtoi(ctx.args().Get("limit"), &limit)) {
    req.set_limit(static_cast<uint32_t>(limit));
  }
  auto r = CallSender(ctx, &Stub::ListOutbox, req);
  if (!r.ok()) return SenderError(ctx, r.status());
  if (ctx.args().Get("output") == "json") {
    ctx.out() << Json(*r);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const v1::OutboxItem& o : r->items()) {
    std::string next =
        o.state() == v1::OUTBOX_STATE_QUEUED ? When(o.due_at_unix_ms(), ctx.Now()) : "-";
    rows.push_back({absl::StrCat(o.id()), o.connector().empty() ? "-" : o.connector(), o.reason(),
                    StateName(o.state()), absl::StrCat(o.attempts()), next, o.to_address(),
                    o.subject().substr(0, 50), o.last_error().substr(0, 60)});
  }
  ctx.out() << FormatTable(
      {"ID", "CONNECTOR", "REASON", "STATE", "ATTEMPTS", "DUE", "TO", "SUBJECT", "LAST ERROR"},
      rows);
  return kExitOk;
}

bool ParseId(const std::string& text, int64_t* id) { return absl::SimpleAtoi(text, id) && *id > 0; }

int DescribeOutbox(Context& ctx, const std::string& id_text) {
  v1::GetOutboxItemRequest req;
  int64_t id = 0;
  if (!ParseId(id_text, &id)) return ctx.UsageError("outbox ID must be a positive number");
  req.set_id(id);
  auto r = CallSender(ctx, &Stub::GetOutboxItem, req);
  if (!r.ok()) return SenderError(ctx, r.status());
  if (ctx.args().Get("output") == "json") {
    ctx.out() << Json(r->item());
    return kExitOk;
  }
  const v1::OutboxItem& o = r->item();
  auto line = [&](const std::string& k, const std::string& v) {
    if (!v.empty()) ctx.out() << k << ": " << v << "\n";
  };
  line("id", absl::StrCat(o.id()));
  line("state", StateName(o.state()));
  line("connector", o.connector().empty() ? "(system default)" : o.connector());
  line("reason", o.reason());
  line("to", o.to_address());
  line("subject", o.subject());
  line("message-id", o.message_id().empty() ? "" : absl::StrCat("<", o.message_id(), ">"));
  line("attempts", absl::StrCat(o.attempts()));
  line("created", FormatTimestamp(o.created_at_unix_ms()));
  if (o.state() == v1::OUTBOX_STATE_QUEUED) line("due", When(o.due_at_unix_ms(), ctx.Now()));
  if (o.last_attempt_at_unix_ms() != 0)
    line("last attempt", FormatTimestamp(o.last_attempt_at_unix_ms()));
  if (o.sent_at_unix_ms() != 0) line("sent", FormatTimestamp(o.sent_at_unix_ms()));
  line("bounce", o.bounce_status().empty() && o.bounce_diagnostic().empty()
                     ? ""
                     : absl::StrCat(o.bounce_status(), " ", o.bounce_diagnostic()));
  line("sending by", o.claimed_by());
  line("last error",
       o.last_error().empty() ? "" : absl::StrCat(o.last_error(), " (", o.last_error_class(), ")"));
  line("work item", o.work_item_id() ? absl::StrCat(o.work_item_id()) : "");
  line("answers message", o.source_message_id() ? absl::StrCat(o.source_message_id()) : "");
  line("dedupe key", o.dedupe_key());
  line("headers", o.headers_json() == "{}" ? "" : o.headers_json());
  ctx.out() << "\n" << o.body_text();
  if (!o.body_text().empty() && o.body_text().back() != '\n') ctx.out() << "\n";
  return kExitOk;
}

int GetSuppressions(Context& ctx) {
  v1::ListSuppressionsRequest req;
  req.set_connector(ctx.args().Get("connector"));
  int limit = 0;
  if (ctx.args().Has("limit") && absl::SimpleAtoi(ctx.args().Get("limit"), &limit)) {
    req.set_limit(static_cast<uint32_t>(limit));
  }
  auto r = CallSender(ctx, &Stub::ListSuppressions, req);
  if (!r.ok()) return SenderError(ctx, r.status());
  if (ctx.args().Get("output") == "json") {
    ctx.out() << Json(*r);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const v1::Suppression& s : r->suppressions()) {
    rows.push_back({s.connector(), s.address(), s.reason(), s.dsn_status(),
                    FormatTimestamp(s.created_at_unix_ms()),
                    s.source_outbox_id() ? absl::StrCat(s.source_outbox_id()) : "-",
                    s.diagnostic().substr(0, 60)});
  }
  ctx.out() << FormatTable(
      {"CONNECTOR", "ADDRESS", "REASON", "STATUS", "SINCE", "OUTBOX", "DIAGNOSTIC"}, rows);
  return kExitOk;
}

int DeleteSuppression(Context& ctx) {
  const auto& p = ctx.positionals();
  const std::string connector = ctx.args().Get("connector");
  if (p.size() != 2 || connector.empty()) {
    return ctx.UsageError("usage: delete suppression ADDRESS --connector C");
  }
  v1::DeleteSuppressionRequest req;
  req.set_connector(connector);
  req.set_address(p[1]);
  auto r = CallSender(ctx, &Stub::DeleteSuppression, req);
  if (!r.ok()) return SenderError(ctx, r.status());
  ctx.out() << "suppression/" << r->deleted().connector() << "/" << r->deleted().address()
            << " deleted (automatic mail goes to it again)\n";
  return kExitOk;
}

int RunRetry(Context& ctx) {
  const auto& p = ctx.positionals();
  int64_t id = 0;
  if (p.size() != 2 || p[0] != "outbox" || !ParseId(p[1], &id)) {
    return ctx.UsageError("usage: retry outbox ID");
  }
  v1::RetryNowRequest req;
  req.set_id(id);
  auto r = CallSender(ctx, &Stub::RetryNow, req);
  if (!r.ok()) return SenderError(ctx, r.status());
  ctx.out() << "outbox/" << id << " is due now (state " << StateName(r->item().state())
            << ", attempts " << r->item().attempts() << ")\n";
  return kExitOk;
}

// What postroomctl reads for one reply: the sender refuses more than the outgoing connector's
// max_message_bytes (25 MiB by default), so a file beyond this is refused before it is read.
constexpr uint64_t kMaxReplyFileBytes = 25ull << 20;

// A type the desk's mail client can show; anything else goes as application/octet-stream.
std::string ContentTypeOf(const std::string& filename) {
  static const std::vector<std::pair<std::string, std::string>> kTypes = {
      {".pdf", "application/pdf"}, {".txt", "text/plain"},  {".csv", "text/csv"},
      {".png", "image/png"},       {".jpg", "image/jpeg"},  {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},       {".zip", "application/zip"},
      {".json", "application/json"}, {".eml", "message/rfc822"}};
  const std::string lower = absl::AsciiStrToLower(filename);
  for (const auto& [ext, type] : kTypes) {
    if (absl::EndsWith(lower, ext)) return type;
  }
  return "";
}

// Reads one file of a reply, refusing it unread when the disk says it is over the bound (the
// read itself is the environment's, so tests give files without a disk).
absl::StatusOr<std::string> ReadReplyFile(Context& ctx, const std::string& path) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxReplyFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, " holds ", size,
                                                   " bytes; a reply holds at most ",
                                                   kMaxReplyFileBytes, " in all"));
  }
  absl::StatusOr<std::string> data = ctx.env().read_file(path);
  if (data.ok() && data->size() > kMaxReplyFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is over ", kMaxReplyFileBytes,
                                                   " bytes"));
  }
  return data;
}

int RunReply(Context& ctx) {
  const auto& p = ctx.positionals();
  int64_t id = 0;
  if (p.size() != 1 || !ParseId(p[0], &id)) {
    return ctx.UsageError("usage: reply WORK_ITEM --text-file F [--html-file F] [--attach F]...");
  }
  if (!ctx.args().Has("text-file") && !ctx.args().Has("html-file")) {
    return ctx.UsageError("reply needs --text-file, --html-file or both");
  }
  v1::SendReplyRequest req;
  req.set_work_item_id(id);
  uint64_t total = 0;
  for (const char* flag : {"text-file", "html-file"}) {
    if (!ctx.args().Has(flag)) continue;
    absl::StatusOr<std::string> body = ReadReplyFile(ctx, ctx.args().Get(flag));
    if (!body.ok()) return ctx.UsageError(std::string(body.status().message()));
    total += body->size();
    *(std::string(flag) == "text-file" ? req.mutable_text() : req.mutable_html()) = *body;
  }
  for (const std::string& path : ctx.args().GetAll("attach")) {
    absl::StatusOr<std::string> data = ReadReplyFile(ctx, path);
    if (!data.ok()) return ctx.UsageError(std::string(data.status().message()));
    total += data->size();
    if (total > kMaxReplyFileBytes) {
      return ctx.UsageError(absl::StrCat("the reply's files hold more than ", kMaxReplyFileBytes,
                                         " bytes in all"));
    }
    v1::ReplyAttachment* a = req.add_attachments();
    a->set_filename(std::filesystem::path(path).filename().string());
    a->set_content_type(ContentTypeOf(a->filename()));
    a->set_content(*std::move(data));
  }
  for (const std::string& cc : ctx.args().GetAll("cc")) req.add_cc(cc);
  req.set_idempotency_key(ctx.args().Get("idempotency-key"));
  auto r = CallSender(ctx, &Stub::SendReply, req);
  if (!r.ok()) return SenderError(ctx, r.status());
  if (ctx.args().Get("output") == "json") {
    ctx.out() << Json(*r);
    return kExitOk;
  }
  ctx.out() << (r->created() ? "reply queued: outbox/" : "already queued with this key: outbox/")
            << r->item().id() << " to " << r->item().to_address() << " (" << r->item().subject()
            << ")\n";
  return kExitOk;
}

const FlagSpec kState{"state", 0,       true,
                      false,   "STATE", "outbox: queued, sent, failed, cancelled, bounced, suppressed"};
const FlagSpec kOutput{"output", 'o', true, false, "FORMAT", "text (default) or json"};
const FlagSpec kLimit{"limit", 0, true, false, "N", "at most N (default 100)"};

bool IsOutbox(const std::string& kind) { return kind == "outbox"; }
bool IsSuppressions(const std::string& kind) {
  return kind == "suppressions" || kind == "suppression";
}

}  // namespace

void AddSenderCommands(std::vector<Command>& commands) {
  for (Command& c : commands) {
    if (c.name == "get") {
      auto inner = c.run;
      c.usage += " | get outbox [--state S] [--connector C] | get suppressions [--connector C]";
      c.kinds.push_back("outbox");
      c.kinds.push_back("suppressions");
      c.help +=
          "\nSender kinds (queued, sent, failed, bounced emails; addresses that bounced for "
          "good):\n"
          "  postroomctl get outbox --state failed\n"
          "  postroomctl get suppressions --connector gateway\n";
      for (const FlagSpec& f : {kState, kLimit}) AddFlag(c, f);
      c.run = [inner](Context& ctx) {
        const auto& p = ctx.positionals();
        if (!p.empty() && IsOutbox(p[0])) {
          return p.size() > 1 ? DescribeOutbox(ctx, p[1]) : GetOutbox(ctx);
        }
        if (p.size() == 1 && IsSuppressions(p[0])) {
          if (ctx.args().Has("state")) return ctx.UsageError("--state applies to get outbox");
          return GetSuppressions(ctx);
        }
        if (ctx.args().Has("state")) return ctx.UsageError("--state applies to get outbox");
        return inner(ctx);
      };
    } else if (c.name == "delete") {
      auto inner = c.run;
      c.usage += " | delete suppression ADDRESS --connector C";
      c.kinds.push_back("suppression");
      c.help +=
          "\nSender kind (automatic mail goes to the address again; audited):\n"
          "  postroomctl delete suppression jane@example.com --connector gateway\n";
      c.run = [inner](Context& ctx) {
        const auto& p = ctx.positionals();
        if (!p.empty() && p[0] == "suppression") return DeleteSuppression(ctx);
        return inner(ctx);
      };
    } else if (c.name == "describe") {
      auto inner = c.run;
      c.usage += " | describe outbox ID";
      c.kinds.push_back("outbox");
      c.help +=
          "\nSender kind (an email with its state, attempts, last error and body):\n"
          "  postroomctl describe outbox 7\n";
      AddFlag(c, kOutput);
      c.run = [inner](Context& ctx) {
        const auto& p = ctx.positionals();
        if (p.size() == 2 && IsOutbox(p[0])) return DescribeOutbox(ctx, p[1]);
        return inner(ctx);
      };
    }
  }
  commands.push_back(Command{
      .name = "retry",
      .usage = "retry outbox ID",
      .summary = "send a queued or failed email now (a failed one gets its attempts back)",
      .help = "Makes the outbox item due at once; the sender picks it up within a second.\n"
              "Retrying again changes nothing; a sent item is refused (FAILED_PRECONDITION).\n"
              "Example: postroomctl retry outbox 7\n",
      .flags = {},
      .run = RunRetry,
      .kinds = {"outbox"}});
  commands.push_back(Command{
      .name = "reply",
      .usage = "reply WORK_ITEM --text-file F [--html-file F] [--attach F]... [--cc ADDR]... "
               "[--idempotency-key K]",
      .summary = "send a reply from the desk to a work item's requester",
      .help = "Queues an email to the work item's requester, from the address they wrote to,\n"
              "threaded into their conversation (subject token, In-Reply-To/References) with\n"
              "the signed reply token in Reply-To, so their answer joins the same work item.\n"
              "Files go as attachments (at most 20; all together within the outgoing\n"
              "connector's max_message_bytes). The same --idempotency-key again returns the\n"
              "first reply instead of sending a second.\n"
              "Example: postroomctl reply 42 --text-file answer.txt --attach invoice.pdf\n",
      .flags = {{"text-file", 0, true, false, "FILE", "the plain-text body"},
                {"html-file", 0, true, false, "FILE", "an HTML body (with or instead of text)"},
                {"attach", 0, true, true, "FILE", "a file to attach (repeatable)"},
                {"cc", 0, true, true, "ADDR", "a copy to this address (repeatable)"},
                {"idempotency-key", 0, true, false, "KEY", "send once per work item and key"},
                kOutput},
      .run = RunReply,
      .kinds = {}});
}

}  // namespace postroom::ctl

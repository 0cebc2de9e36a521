// The router commands: `route FILE.eml`, `reprocess`, `mark spam|clean`, and the router kinds
// of `get` (messages, work-items) and `describe` (message, work-item), which wrap the config
// service's get/describe: other kinds go on to them unchanged.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "postroom/v1/router.grpc.pb.h"
#include "tools/postroomctl/command.h"
#include "tools/postroomctl/download.h"
#include "tools/postroomctl/printers.h"
#include "tools/postroomctl/yaml_proto.h"

namespace postroom::ctl {

void AddRouterCommands(std::vector<Command>& commands);

using Stub = v1::RouterService::StubInterface;

absl::StatusOr<std::unique_ptr<Stub>> RouterStub(Context& ctx) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelInterface>> channel =
      ctx.env().open_channel(ctx.connection().router_addr, ctx.connection());
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<Stub>(v1::RouterService::NewStub(*channel));
}

int RouterError(Context& ctx, const absl::Status& status) {
  ctx.err() << FormatError(status, "router", ctx.connection().router_addr) << "\n";
  return ExitCodeFor(status);
}

namespace {

template <typename Request, typename Response>
absl::StatusOr<Response> CallRouter(Context& ctx,
                                    grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                                 const Request&, Response*),
                                    const Request& request) {
  absl::StatusOr<std::unique_ptr<Stub>> stub = RouterStub(ctx);
  if (!stub.ok()) return stub.status();
  return Call(**stub, method, request, ctx.call_options());
}

std::string DecisionName(v1::Decision d) {
  if (d == v1::DECISION_UNSPECIFIED) return "pending";
  return ShortEnumName(*v1::Decision_descriptor()->FindValueByNumber(d));
}

std::string SpamName(v1::SpamStatus s) {
  if (s == v1::SPAM_STATUS_UNSPECIFIED) return "-";
  return ShortEnumName(*v1::SpamStatus_descriptor()->FindValueByNumber(s));
}

bool ParseDecision(const std::string& name, v1::Decision* out) {
  for (int i = 1; i <= 9; ++i) {
    auto d = static_cast<v1::Decision>(i);
    if (DecisionName(d) == name) {
      *out = d;
      return true;
    }
  }
  return false;
}

void PrintTrace(std::ostream& out, const google::protobuf::RepeatedPtrField<v1::TraceStep>& t) {
  out << "trace:\n";
  for (const v1::TraceStep& s : t) {
    out << "  " << (s.decided() ? "* " : "  ") << s.step() << ": " << s.reason() << "\n";
  }
}

void PrintDecision(std::ostream& out, const v1::RouteEmailResponse& r, bool dry_run) {
  if (dry_run) {
    out << "would be: " << DecisionName(r.decision());
  } else {
    out << "message " << r.message_id() << ": " << DecisionName(r.decision());
    if (r.replayed()) out << " (replayed: decided before)";
  }
  out << "\nstep: " << r.step();
  if (!r.route().empty()) out << " (route " << r.route() << ")";
  out << "\nreason: " << r.reason() << "\n";
  if (!r.classification().empty()) {
    out << "classification: " << r.classification();
    if (r.signals_size() > 0) out << " [" << absl::StrJoin(r.signals(), ", ") << "]";
    out << "\n";
  }
  if (!r.sent_to().empty()) out << "sent to: " << r.sent_to() << "\n";
  if (r.work_item_id() != 0) {
    out << "work item: " << r.work_item_reference() << " (id " << r.work_item_id() << ")";
    if (!r.queue().empty()) out << " queue " << r.queue();
    out << "\n";
  }
  if (r.acknowledgement_queued()) {
    out << "acknowledgement: " << (dry_run ? "would be queued" : "queued") << "\n";
  } else if (!r.acknowledgement_suppressed().empty()) {
    out << "acknowledgement: suppressed (" << r.acknowledgement_suppressed() << ")\n";
  }
  PrintTrace(out, r.trace());
}

int RunRoute(Context& ctx) {
  if (ctx.positionals().size() != 1) return ctx.UsageError("give exactly one .eml file");
  std::string connector = ctx.args().Get("connector");
  if (connector.empty()) return ctx.UsageError("--connector is required");
  absl::StatusOr<std::string> raw = ctx.env().read_file(ctx.positionals()[0]);
  if (!raw.ok()) return ctx.UsageError(std::string(raw.status().message()));
  const bool json = ctx.args().Get("output") == "json";
  if (ctx.args().GetBool("explain")) {
    v1::ExplainRouteRequest req;
    req.set_connector(connector);
    req.set_raw_message(*raw);
    absl::StatusOr<v1::ExplainRouteResponse> r =
        CallRouter(ctx, &Stub::ExplainRoute, req);
    if (!r.ok()) return RouterError(ctx, r.status());
    if (json) {
      ctx.out() << Json(r->decision());
    } else {
      PrintDecision(ctx.out(), r->decision(), true);
    }
    return kExitOk;
  }
  v1::RouteEmailRequest req;
  req.set_connector(connector);
  req.set_raw_message(*raw);
  req.set_fetch_key(ctx.args().Get("fetch-key"));
  absl::StatusOr<v1::RouteEmailResponse> r = CallRouter(ctx, &Stub::RouteEmail, req);
  if (!r.ok()) return RouterError(ctx, r.status());
  if (json) {
    ctx.out() << Json(*r);
  } else {
    PrintDecision(ctx.out(), *r, false);
  }
  return kExitOk;
}

int GetMessages(Context& ctx) {
  v1::ListMessagesRequest req;
  req.set_connector(ctx.args().Get("connector"));
  std::string d = ctx.args().Get("decision");
  if (d == "pending") {
    req.set_pending(true);
  } else if (!d.empty()) {
    v1::Decision decision;
    if (!ParseDecision(d, &decision)) {
      return ctx.UsageError(absl::StrCat(
          "unknown decision \"", d,
          "\"; use created, appended, duplicate, spam, auto_reply, bounce, blocked, unhandled, "
          "failed or pending"));
    }
    req.set_decision(decision);
  }
  int limit = 0;
  if (ctx.args().Has("limit") && absl::SimpleAtoi(ctx.args().Get("limit"), &limit)) {
    req.set_limit(limit);
  }
  absl::StatusOr<v1::ListMessagesResponse> r = CallRouter(ctx, &Stub::ListMessages, req);
  if (!r.ok()) return RouterError(ctx, r.status());
  if (ctx.args().Get("output") == "json") {
    ctx.out() << Json(*r);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const v1::StoredMessage& m : r->messages()) {
    rows.push_back({absl::StrCat(m.id()), m.connector(), DecisionName(m.decision()), m.step(),
                    m.work_item_id() ? absl::StrCat(m.work_item_id()) : "-", m.from(),
                    m.subject().substr(0, 60), FormatAgo(m.stored_at_unix_ms(), ctx.Now())});
  }
  ctx.out() << FormatTable(
      {"ID", "CONNECTOR", "DECISION", "STEP", "WORK ITEM", "FROM", "SUBJECT", "AGE"}, rows);
  return kExitOk;
}

int GetWorkItems(Context& ctx) {
  v1::ListWorkItemsRequest req;
  req.set_connector(ctx.args().Get("connector"));
  req.set_queue(ctx.args().Get("queue"));
  int limit = 0;
  if (ctx.args().Has("limit") && absl::SimpleAtoi(ctx.args().Get("limit"), &limit)) {
    req.set_limit(limit);
  }
  absl::StatusOr<v1::ListWorkItemsResponse> r = CallRouter(ctx, &Stub::ListWorkItems, req);
  if (!r.ok()) return RouterError(ctx, r.status());
  if (ctx.args().Get("output") == "json") {
    ctx.out() << Json(*r);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const v1::WorkItem& w : r->work_items()) {
    rows.push_back({w.reference(), absl::StrCat(w.id()), w.queue(), w.priority(),
                    w.requester_address(), w.subject().substr(0, 60),
                    FormatAgo(w.created_at_unix_ms(), ctx.Now())});
  }
  ctx.out() << FormatTable({"REFERENCE", "ID", "QUEUE", "PRIORITY", "REQUESTER", "SUBJECT", "AGE"},
                           rows);
  return kExitOk;
}

int DescribeMessage(Context& ctx, const std::string& id_text) {
  int64_t id = 0;
  if (!absl::SimpleAtoi(id_text, &id)) return ctx.UsageError("message ID must be a number");
  v1::GetMessageRequest req;
  req.set_id(id);
  absl::StatusOr<v1::GetMessageResponse> r = CallRouter(ctx, &Stub::GetMessage, req);
  if (!r.ok()) return RouterError(ctx, r.status());
  const v1::StoredMessage& m = r->message();
  if (ctx.args().Get("output") == "json") {
    ctx.out() << Json(m);
    return kExitOk;
  }
  std::ostream& out = ctx.out();
  out << "Message:        " << m.id() << "\n"
      << "Connector:      " << m.connector() << "\n"
      << "Fetch key:      " << m.fetch_key() << "\n"
      << "Message-ID:     " << m.message_id() << "\n"
      << "From:           " << m.from() << "\n"
      << "Sent to:        " << (m.sent_to().empty() ? "-" : m.sent_to()) << "\n"
      << "Subject:        " << m.subject() << "\n"
      << "Size:           " << m.size_bytes() << " bytes\n"
      << "Stored:         " << FormatTimestamp(m.stored_at_unix_ms()) << "\n"
      << "Classification: " << m.classification() << "\n"
      << "Spam status:    " << SpamName(m.spam_status()) << "\n"
      << "Decision:       " << DecisionName(m.decision()) << " (step " << m.step()
      << (m.route().empty() ? "" : absl::StrCat(", route ", m.route())) << ")\n"
      << "Reason:         " << m.reason() << "\n";
  if (m.work_item_id() != 0) out << "Work item:      " << m.work_item_id() << "\n";
  out << "Acknowledgement: " << AckOutcomeText(m) << "\n";
  if (m.duplicate_of() != 0) out << "Duplicate of:   " << m.duplicate_of() << "\n";
  if (m.defects_size() > 0) out << "Defects:        " << absl::StrJoin(m.defects(), ", ") << "\n";
  if (!m.last_error().empty()) {
    out << "Last error:     " << m.last_error() << " (" << m.route_attempts() << " attempts)\n";
  }
  PrintTrace(out, m.trace());
  return kExitOk;
}

// A long new text stops here on the terminal; -o json has all of it.
constexpr size_t kNewTextLines = 40;

// The work item's new text, indented, and whether it is its whole body: a follow-up's quoted
// history or a signature left out is what a reader must not take for lost.
void PrintNewText(std::ostream& out, const v1::WorkItem& w) {
  absl::string_view text = absl::StripAsciiWhitespace(w.new_text());
  if (text.empty()) return;
  const bool same = text == absl::StripAsciiWhitespace(w.body());
  out << "New text:   "
      << (same ? "(the whole body)"
               : "(differs from the body: quoted history or signature left out)")
      << "\n";
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  for (size_t i = 0; i < lines.size() && i < kNewTextLines; ++i) {
    out << "  " << absl::StripTrailingAsciiWhitespace(lines[i]) << "\n";
  }
  if (lines.size() > kNewTextLines) {
    out << "  ... " << lines.size() - kNewTextLines << " more lines (-o json shows all)\n";
  }
}

int DescribeWorkItem(Context& ctx, const std::string& ref) {
  v1::GetWorkItemRequest req;
  int64_t id = 0;
  if (absl::SimpleAtoi(ref, &id)) {
    req.set_id(id);
  } else {
    req.set_reference(ref);
  }
  absl::StatusOr<v1::GetWorkItemResponse> r = CallRouter(ctx, &Stub::GetWorkItem, req);
  if (!r.ok()) return RouterError(ctx, r.status());
  if (ctx.args().Get("output") == "json") {
    ctx.out() << Json(*r);
    return kExitOk;
  }
  const v1::WorkItem& w = r->work_item();
  std::ostream& out = ctx.out();
  out << "Work item:  " << w.reference() << " (id " << w.id() << ")\n"
      << "Connector:  " << w.connector() << "\n"
      << "Queue:      " << w.queue() << (w.type().empty() ? "" : "  type " + w.type()) << "\n"
      << "Priority:   " << w.priority() << "\n"
      << "Requester:  " << w.requester_name() << " <" << w.requester_address() << ">\n"
      << "Subject:    " << w.subject() << "\n"
      << "Created:    " << FormatTimestamp(w.created_at_unix_ms()) << "\n";
  if (!w.template_().empty()) out << "Template:   " << w.template_() << "\n";
  for (const auto& [k, v] : w.fields()) out << "Field:      " << k << " = " << v << "\n";
  for (const v1::Attachment& a : w.attachments()) {
    // How to fetch it, since the desk and people start from the work item.
    std::string fetch = a.original_eml()
                            ? absl::StrCat("download message ", a.message_id())
                            : absl::StrCat("download attachment ", a.message_id(), " ", a.index());
    out << "Attachment: " << a.filename() << " (" << a.content_type() << ", " << a.size()
        << " bytes)  " << fetch << "\n";
  }
  PrintNewText(out, w);
  out << "Messages:\n";
  for (const v1::StoredMessage& m : r->messages()) {
    out << "  " << m.id() << "  " << DecisionName(m.decision()) << "  " << m.from() << "  "
        << m.subject() << "\n";
  }
  out << "Outbox:\n";
  for (const v1::OutboxEmail& o : r->outbox()) {
    out << "  " << o.id() << "  " << o.reason() << "  " << o.status() << "  to " << o.to_address()
        << "  via " << (o.outgoing_connector().empty() ? "(system default)" : o.outgoing_connector())
        << "  \"" << o.subject() << "\"\n";
  }
  return kExitOk;
}

// The ids of every message of `connector` with `decision`, oldest first, read page by page
// before anything is routed again (routing changes the decision the pages select on).
absl::StatusOr<std::vector<int64_t>> MatchingIds(Context& ctx, const std::string& connector,
                                                 v1::Decision decision, size_t cap) {
  std::vector<int64_t> ids;
  v1::ListMessagesRequest list;
  list.set_connector(connector);
  list.set_decision(decision);
  list.set_limit(1000);
  for (;;) {
    absl::StatusOr<v1::ListMessagesResponse> page = CallRouter(ctx, &Stub::ListMessages, list);
    if (!page.ok()) return page.status();
    for (const v1::StoredMessage& m : page->messages()) ids.push_back(m.id());
    if (page->next_before_id() == 0 || ids.size() >= cap) break;
    list.set_before_id(page->next_before_id());
  }
  if (ids.size() > cap) ids.resize(cap);
  std::sort(ids.begin(), ids.end());
  return ids;
}

constexpr size_t kReprocessBatch = 50;

// One progress line on stderr for a long run: `what` ("reprocessed 400 of 1234"), the percent
// done and, while unfinished, the time left at the pace so far; rewritten in place on a
// terminal, a line per call otherwise.
void ShowProgress(Context& ctx, const std::string& what, uint64_t done, uint64_t total,
                  absl::Time started) {
  const absl::Duration took = ctx.Now() - started;
  std::string line = absl::StrCat(what, " (", total == 0 ? 100 : done * 100 / total, "%)");
  if (done < total && done > 0 && took > absl::ZeroDuration()) {
    absl::StrAppend(&line, ", about ",
                    FormatAge(took * (static_cast<double>(total - done) / done)), " left");
  }
  if (ctx.env().out_is_terminal) {
    ctx.err() << "\r" << line << "\033[K" << (done >= total ? "\n" : "") << std::flush;
  } else {
    ctx.err() << line << "\n";
  }
}


// Routes the messages again in batches of kReprocessBatch, so a long run shows progress on
// stderr (one line rewritten in place on a terminal, a line per batch otherwise) with the
// time it is likely to take, and an interrupted run has done whole batches.
int RunReprocess(Context& ctx) {
  std::vector<int64_t> ids;
  for (const std::string& p : ctx.positionals()) {
    int64_t id = 0;
    if (!absl::SimpleAtoi(p, &id)) return ctx.UsageError("message IDs must be numbers");
    ids.push_back(id);
  }
  const std::string connector = ctx.args().Get("connector");
  std::string d = ctx.args().Get("decision");
  v1::Decision decision = v1::DECISION_UNSPECIFIED;
  if (!d.empty() && !ParseDecision(d, &decision)) {
    return ctx.UsageError("unknown decision \"" + d + "\"");
  }
  if (ids.empty() && (connector.empty() || d.empty())) {
    return ctx.UsageError("give message IDs, or --connector C --decision D");
  }
  int64_t limit = 100000;
  if (const std::string l = ctx.args().Get("limit");
      !l.empty() && (!absl::SimpleAtoi(l, &limit) || limit <= 0)) {
    return ctx.UsageError("--limit takes a positive number");
  }
  if (ids.empty()) {
    absl::StatusOr<std::vector<int64_t>> found =
        MatchingIds(ctx, connector, decision, static_cast<size_t>(limit));
    if (!found.ok()) return RouterError(ctx, found.status());
    ids = *std::move(found);
  }
  const bool json = ctx.args().Get("output") == "json";
  const bool terminal = ctx.env().out_is_terminal;
  const bool show_progress = ids.size() > kReprocessBatch;
  const absl::Time started = ctx.Now();
  v1::ReprocessResponse all;
  for (size_t done = 0; done < ids.size();) {
    v1::ReprocessRequest req;
    const size_t end = std::min(ids.size(), done + kReprocessBatch);
    for (size_t i = done; i < end; ++i) req.add_ids(ids[i]);
    absl::StatusOr<v1::ReprocessResponse> r = CallRouter(ctx, &Stub::Reprocess, req);
    if (!r.ok()) {
      if (show_progress && terminal) ctx.err() << "\n";
      const int code = RouterError(ctx, r.status());
      ctx.err() << done << " of " << ids.size() << " reprocessed before the error\n";
      return code;
    }
    for (v1::RouteEmailResponse& x : *r->mutable_results()) *all.add_results() = std::move(x);
    done = end;
    if (show_progress) {
      ShowProgress(ctx, absl::StrCat("reprocessed ", done, " of ", ids.size()), done,
                   ids.size(), started);
    }
  }
  if (json) {
    ctx.out() << Json(all);
    return kExitOk;
  }
  for (const v1::RouteEmailResponse& x : all.results()) {
    ctx.out() << "message " << x.message_id() << ": " << DecisionName(x.decision())
              << (x.replayed() ? " (unchanged)" : "")
              << (x.work_item_reference().empty() ? "" : " " + x.work_item_reference()) << "\n";
  }
  ctx.out() << all.results_size() << " message(s)\n";
  return kExitOk;
}

int RunMark(Context& ctx) {
  if (ctx.positionals().size() != 2 ||
      (ctx.positionals()[0] != "spam" && ctx.positionals()[0] != "clean")) {
    return ctx.UsageError("use: mark spam|clean ID");
  }
  v1::SetSpamStatusRequest req;
  int64_t id = 0;
  if (!absl::SimpleAtoi(ctx.positionals()[1], &id)) return ctx.UsageError("ID must be a number");
  req.set_id(id);
  req.set_spam(ctx.positionals()[0] == "spam");
  absl::StatusOr<v1::SetSpamStatusResponse> r = CallRouter(ctx, &Stub::SetSpamStatus, req);
  if (!r.ok()) return RouterError(ctx, r.status());
  ctx.out() << "message " << id << ": spam status " << SpamName(r->message().spam_status())
            << ", decision " << DecisionName(r->message().decision()) << "\n";
  if (r->has_rerouted() && r->rerouted().work_item_id() != 0) {
    ctx.out() << "routed again: work item " << r->rerouted().work_item_reference() << "\n";
  }
  return kExitOk;
}

constexpr uint32_t kForgetBatch = 200;

std::string ForgetCountsText(const v1::ForgetCounts& c) {
  return absl::StrCat("messages: ", c.messages(), " (sent by them: ", c.messages_sent(),
                      ", naming them: ", c.messages_named(), ")\nwork items: ", c.work_items(),
                      "\noutbox emails: ", c.outbox(), " (files: ", c.outbox_attachments(),
                      ")\nwebhook deliveries: ", c.webhook_deliveries(),
                      "\nsuppressions: ", c.suppressions(), "\n");
}

void AddForgetCounts(const v1::ForgetCounts& from, v1::ForgetCounts& to) {
  to.set_messages(to.messages() + from.messages());
  to.set_messages_sent(to.messages_sent() + from.messages_sent());
  to.set_messages_named(to.messages_named() + from.messages_named());
  to.set_work_items(to.work_items() + from.work_items());
  to.set_outbox(to.outbox() + from.outbox());
  to.set_webhook_deliveries(to.webhook_deliveries() + from.webhook_deliveries());
  to.set_outbox_attachments(to.outbox_attachments() + from.outbox_attachments());
  to.set_suppressions(to.suppressions() + from.suppressions());
}

// `forget address ADDRESS`: ForgetAddress batch after batch until the router says it is done,
// with progress on stderr like reprocess. An interrupted run is run again from the start: what
// was forgotten matches no more.
int RunForget(Context& ctx) {
  if (ctx.positionals().size() != 2 || ctx.positionals()[0] != "address") {
    return ctx.UsageError("use: forget address ADDRESS [--dry-run]");
  }
  v1::ForgetAddressRequest req;
  req.set_address(ctx.positionals()[1]);
  req.set_dry_run(ctx.args().Has("dry-run"));
  req.set_limit(kForgetBatch);
  const bool json = ctx.args().Get("output") == "json";
  const absl::Time started = ctx.Now();
  v1::ForgetAddressResponse all;
  uint64_t total = 0, done = 0;
  for (;;) {
    absl::StatusOr<v1::ForgetAddressResponse> r = CallRouter(ctx, &Stub::ForgetAddress, req);
    if (!r.ok()) {
      if (total > kForgetBatch && ctx.env().out_is_terminal) ctx.err() << "\n";
      const int code = RouterError(ctx, r.status());
      if (req.after_id() != 0) {  // Some batches were done and stay done.
        ctx.err() << "forgot " << Grouped(done) << " of " << Grouped(total)
                  << " messages before the error; run the command again to finish\n";
      }
      return code;
    }
    if (req.after_id() == 0) total = static_cast<uint64_t>(r->remaining());
    AddForgetCounts(r->counts(), *all.mutable_counts());
    all.set_hash(r->hash());
    done += static_cast<uint64_t>(r->counts().messages());
    if (!req.dry_run() && total > kForgetBatch) {
      ShowProgress(ctx,
                   absl::StrCat("forgot ", Grouped(done), " of ", Grouped(total), " messages"),
                   r->next_after_id() == 0 ? total : done, total, started);
    }
    if (r->next_after_id() == 0) break;
    req.set_after_id(r->next_after_id());
  }
  if (json) {
    ctx.out() << Json(all);
    return kExitOk;
  }
  ctx.out() << (req.dry_run() ? "would forget " : "forgot ") << req.address() << " (as "
            << all.hash() << ")\n"
            << ForgetCountsText(all.counts());
  return kExitOk;
}

const FlagSpec kOutput{"output", 'o', true, false, "FORMAT", "text (default) or json"};
const FlagSpec kConnector{"connector", 0, true, false, "NAME", "incoming connector"};
const FlagSpec kDecision{"decision", 0, true, false, "DECISION",
                         "created, appended, duplicate, spam, auto_reply, bounce, blocked, "
                         "unhandled, failed (get messages: also pending)"};
const FlagSpec kQueue{"queue", 0, true, false, "QUEUE", "only work items of this queue"};
const FlagSpec kLimit{"limit", 0, true, false, "N", "at most N (default 100)"};

bool IsRouterKind(const std::string& kind) {
  return kind == "messages" || kind == "message" || kind == "work-items" || kind == "work-item" ||
         kind == "workitems";
}

}  // namespace

void AddRouterCommands(std::vector<Command>& commands) {
  for (Command& c : commands) {
    if (c.name == "get") {
      auto inner = c.run;
      c.usage += " | get messages|work-items [--connector C] [--decision D] [--queue Q]"
                 " | get attachments MESSAGE_ID";
      c.kinds.insert(c.kinds.end(), {"messages", "work-items", "attachments"});
      c.help += "\nRouter kinds:\n"
                "  postroomctl get messages --connector support --decision unhandled\n"
                "  postroomctl get work-items --queue billing\n"
                "  postroomctl get attachments 42      (then: download attachment 42 INDEX)\n";
      for (const FlagSpec& f : {kDecision, kQueue, kLimit}) AddFlag(c, f);
      c.run = [inner](Context& ctx) {
        const auto& p = ctx.positionals();
        if (p.size() == 2 && (p[0] == "attachments" || p[0] == "attachment")) {
          return GetAttachments(ctx, p[1]);
        }
        if (!p.empty() && IsRouterKind(p[0])) {
          if (p.size() > 1 && (p[0] == "message" || p[0] == "messages")) {
            return DescribeMessage(ctx, p[1]);
          }
          if (p.size() > 1) return DescribeWorkItem(ctx, p[1]);
          return p[0].rfind("message", 0) == 0 ? GetMessages(ctx) : GetWorkItems(ctx);
        }
        if (ctx.args().Has("decision") || ctx.args().Has("queue") || ctx.args().Has("limit")) {
          return ctx.UsageError("--decision, --queue and --limit apply to messages and work-items");
        }
        return inner(ctx);
      };
    } else if (c.name == "describe") {
      auto inner = c.run;
      c.usage += " | describe message ID | describe work-item ID|REFERENCE";
      c.kinds.insert(c.kinds.end(), {"message", "work-item"});
      c.help += "\nRouter kinds (decision and trace of a message; a work item with its\n"
                "messages and queued emails):\n"
                "  postroomctl describe message 42\n  postroomctl describe work-item SUP-1042\n";
      AddFlag(c, kOutput);
      c.run = [inner](Context& ctx) {
        const auto& p = ctx.positionals();
        if (p.size() == 2 && (p[0] == "message" || p[0] == "messages")) {
          return DescribeMessage(ctx, p[1]);
        }
        if (p.size() == 2 && IsRouterKind(p[0])) return DescribeWorkItem(ctx, p[1]);
        return inner(ctx);
      };
    }
  }
  commands.push_back(DownloadCommand());
  commands.push_back(Command{
      .name = "route",
      .usage = "route FILE.eml --connector NAME [--explain] [--fetch-key KEY] [-o json]",
      .summary = "route one .eml through the router (or --explain: a dry run)",
      .help = "Sends the file to the router's RouteEmail (needs an operator token) and prints\n"
              "the decision, the work item, the acknowledgement and the trace of every step.\n"
              "--explain calls ExplainRoute instead: nothing is written.\n"
              "Routing the same file again replays the first decision (idempotent).\n\n"
              "Examples:\n"
              "  postroomctl route mail.eml --connector support\n"
              "  postroomctl route mail.eml --connector support --explain\n",
      .flags = {kConnector,
                {"explain", 0, false, false, "", "dry run: show the decision, write nothing"},
                {"fetch-key", 0, true, false, "KEY",
                 "idempotency key (default: sha256 of the file)"},
                kOutput},
      .run = RunRoute});
  commands.push_back(Command{
      .name = "reprocess",
      .usage = "reprocess ID... | reprocess --connector C --decision D",
      .summary = "route stored messages again (e.g. unhandled ones after a config fix)",
      .help = "Messages already on a work item are left as they are, so repeating the command\n"
              "changes nothing. Runs in batches of 50 and shows its progress on stderr.\n\n"
              "Examples:\n"
              "  postroomctl reprocess 42 43\n"
              "  postroomctl reprocess --connector support --decision unhandled\n",
      .flags = {kConnector, kDecision, kOutput,
                {"limit", 0, true, false, "N",
                 "with --connector: at most N messages, the newest (default 100000)"}},
      .run = RunReprocess});
  commands.push_back(Command{
      .name = "mark",
      .usage = "mark spam|clean ID",
      .summary = "mark a message spam or clean by hand (clean routes it again)",
      .help = "A manual status is never overwritten by the classifier.\n\n"
              "Examples:\n  postroomctl mark clean 42\n  postroomctl mark spam 43\n",
      .flags = {},
      .run = RunMark,
      .kinds = {"spam", "clean"}});
  commands.push_back(Command{
      .name = "forget",
      .usage = "forget address ADDRESS [--dry-run] [-o json]",
      .summary = "erase one person's mail, names and address (admin; docs/privacy.md)",
      .help = "Removes the raw mail, bodies, attachments, names and address of ADDRESS\n"
              "(case-insensitive) from messages, work items and the outbox. Decisions stay, the\n"
              "address replaced by forgotten:sha256:<hex>. Writes one audit entry with the\n"
              "counts. Runs in batches of 200 messages with progress on stderr; an interrupted\n"
              "run continues when run again. --dry-run prints the counts and changes nothing.\n\n"
              "Examples:\n"
              "  postroomctl forget address jane@example.com --dry-run\n"
              "  postroomctl forget address jane@example.com\n",
      .flags = {{"dry-run", 0, false, false, "", "count what would be removed, change nothing"},
                kOutput},
      .run = RunForget,
      .kinds = {"address"}});
}

}  // namespace postroom::ctl

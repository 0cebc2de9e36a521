// The read queries: stored messages, work items and their events, as the API's protos.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "libs/base/status_macros.h"
#include "services/router/core/internal.h"
#include "services/router/core/json.h"

namespace postroom::router {

namespace {

v1::StoredMessage ToProto(const store::MessageRecord& m) {
  v1::StoredMessage out;
  out.set_id(m.id);
  out.set_connector(m.connector);
  out.set_fetch_key(m.fetch_key);
  out.set_folder(m.folder);
  out.set_message_id(m.message_id);
  google::protobuf::Struct summary;
  if (FromJson(m.summary_json, &summary)) {
    const auto& f = summary.fields();
    if (auto it = f.find("subject"); it != f.end()) out.set_subject(it->second.string_value());
    if (auto it = f.find("from"); it != f.end()) out.set_from(it->second.string_value());
    if (auto it = f.find("sent_to"); it != f.end()) out.set_sent_to(it->second.string_value());
    if (auto it = f.find("classification"); it != f.end()) {
      out.set_classification(it->second.string_value());
    }
    if (auto it = f.find("defects"); it != f.end()) {
      for (const auto& v : it->second.list_value().values()) out.add_defects(v.string_value());
    }
  }
  auto ms = [](absl::Time t) {
    return t == absl::InfinitePast() ? int64_t{0} : absl::ToUnixMillis(t);
  };
  out.set_received_at_unix_ms(ms(m.received_at));
  out.set_stored_at_unix_ms(ms(m.stored_at));
  out.set_decided_at_unix_ms(m.decision.empty() ? 0 : ms(m.decided_at));
  out.set_decision(DecisionFromName(m.decision));
  out.set_step(m.decision_step);
  out.set_route(m.decision_route);
  out.set_reason(m.decision_reason);
  v1::DecisionTrace trace;
  if (FromJson(m.trace_json, &trace)) *out.mutable_trace() = trace.steps();
  out.set_work_item_id(m.work_item_id);
  out.set_duplicate_of(m.duplicate_of);
  out.set_spam_status(SpamFromName(m.spam_status));
  out.set_size_bytes(m.size_bytes);
  out.set_route_attempts(m.route_attempts);
  out.set_last_error(m.last_error);
  if (!m.ack_outcome_json.empty()) FromJson(m.ack_outcome_json, out.mutable_ack());
  out.set_raw(m.raw);
  out.set_new_text(m.new_text);
  return out;
}

v1::WorkItem ToProto(const store::WorkItemRecord& w) {
  v1::WorkItem out;
  out.set_id(w.id);
  out.set_reference(w.reference);
  out.set_connector(w.connector);
  out.set_source(w.source);
  out.set_queue(w.queue);
  out.set_type(w.type);
  out.set_priority(w.priority);
  out.set_requester_address(w.requester_address);
  out.set_requester_name(w.requester_name);
  out.set_subject(w.subject);
  out.set_body(w.body);
  out.set_new_text(w.new_text);
  out.set_template_(w.template_name);
  google::protobuf::Struct fields;
  if (FromJson(w.fields_json, &fields)) {
    for (const auto& [k, v] : fields.fields()) (*out.mutable_fields())[k] = v.string_value();
  }
  google::protobuf::ListValue atts;
  if (FromJson(w.attachments_json, &atts)) {
    for (const auto& v : atts.values()) {
      const auto& f = v.struct_value().fields();
      v1::Attachment* at = out.add_attachments();
      auto get = [&](const char* k) -> const google::protobuf::Value* {
        auto it = f.find(k);
        return it == f.end() ? nullptr : &it->second;
      };
      if (auto* x = get("filename")) at->set_filename(x->string_value());
      if (auto* x = get("content_type")) at->set_content_type(x->string_value());
      if (auto* x = get("size")) at->set_size(static_cast<uint64_t>(x->number_value()));
      if (auto* x = get("original_eml")) at->set_original_eml(x->bool_value());
      if (auto* x = get("index")) at->set_index(static_cast<uint32_t>(x->number_value()));
      if (auto* x = get("content_id")) at->set_content_id(x->string_value());
      if (auto* x = get("disposition")) at->set_disposition(x->string_value());
      if (auto* x = get("sha256")) at->set_sha256(x->string_value());
      if (!w.message_ids.empty()) at->set_message_id(w.message_ids[0]);
    }
  }
  out.set_test_mode(w.test_mode);
  out.set_created_at_unix_ms(absl::ToUnixMillis(w.created_at));
  out.set_updated_at_unix_ms(absl::ToUnixMillis(w.updated_at));
  for (int64_t id : w.message_ids) out.add_message_ids(id);
  return out;
}

int Limit(uint32_t asked) {
  if (asked == 0) return 100;
  return static_cast<int>(std::min<uint32_t>(asked, 1000));
}

}  // namespace

absl::StatusOr<v1::StoredMessage> Router::GetMessage(int64_t id, bool include_raw) {
  if (id <= 0) return absl::InvalidArgumentError("id is required: a stored message's id");
  POSTROOM_ASSIGN_OR_RETURN(store::MessageRecord m, options_.store->GetMessage(id, include_raw));
  return ToProto(m);
}

absl::StatusOr<v1::ListMessagesResponse> Router::ListMessages(const v1::ListMessagesRequest& req) {
  store::MessageFilter f;
  if (!req.connector().empty()) {
    POSTROOM_ASSIGN_OR_RETURN(std::shared_ptr<const ConnectorConfig> cfg,
                              Config(req.connector()));
    f.connector_id = cfg->record.id;
  }
  f.decision = DecisionName(req.decision());
  f.pending = req.pending();
  if (req.since_unix_ms() > 0) f.since = absl::FromUnixMillis(req.since_unix_ms());
  if (req.until_unix_ms() > 0) f.until = absl::FromUnixMillis(req.until_unix_ms());
  f.before_id = req.before_id();
  f.limit = Limit(req.limit());
  POSTROOM_ASSIGN_OR_RETURN(std::vector<store::MessageRecord> rows,
                            options_.store->ListMessages(f));
  v1::ListMessagesResponse out;
  for (const store::MessageRecord& m : rows) *out.add_messages() = ToProto(m);
  if (static_cast<int>(rows.size()) == f.limit) out.set_next_before_id(rows.back().id);
  return out;
}

absl::StatusOr<v1::GetWorkItemResponse> Router::GetWorkItem(const v1::GetWorkItemRequest& req) {
  int64_t id = req.id();
  if (id == 0 && !req.reference().empty()) {
    POSTROOM_ASSIGN_OR_RETURN(id, options_.store->WorkItemIdByReference(req.reference()));
  }
  if (id <= 0) return absl::InvalidArgumentError("give a work item id or reference");
  POSTROOM_ASSIGN_OR_RETURN(store::WorkItemRecord w, options_.store->GetWorkItem(id));
  v1::GetWorkItemResponse out;
  *out.mutable_work_item() = ToProto(w);
  POSTROOM_ASSIGN_OR_RETURN(std::vector<store::MessageRecord> msgs,
                            options_.store->ListMessagesOfWorkItem(id));
  for (const store::MessageRecord& m : msgs) *out.add_messages() = ToProto(m);
  POSTROOM_ASSIGN_OR_RETURN(std::vector<store::OutboxRecord> outbox,
                            options_.store->ListOutboxForWorkItem(id));
  for (const store::OutboxRecord& o : outbox) {
    v1::OutboxEmail* e = out.add_outbox();
    e->set_id(o.id);
    e->set_reason(o.reason);
    e->set_status(o.status);
    e->set_to_address(o.to_address);
    e->set_subject(o.subject);
    e->set_body_text(o.body_text);
    e->set_outgoing_connector(o.outgoing_connector);
    e->set_message_id(o.message_id);
    e->set_dedupe_key(o.dedupe_key);
  }
  return out;
}

absl::StatusOr<v1::ListWorkItemsResponse> Router::ListWorkItems(
    const v1::ListWorkItemsRequest& req) {
  store::WorkItemFilter f;
  f.queue = req.queue();
  if (!req.connector().empty()) {
    POSTROOM_ASSIGN_OR_RETURN(std::shared_ptr<const ConnectorConfig> cfg,
                              Config(req.connector()));
    f.connector_id = cfg->record.id;
  }
  f.before_id = req.before_id();
  f.limit = Limit(req.limit());
  POSTROOM_ASSIGN_OR_RETURN(std::vector<store::WorkItemRecord> rows,
                            options_.store->ListWorkItems(f));
  v1::ListWorkItemsResponse out;
  for (const store::WorkItemRecord& w : rows) *out.add_work_items() = ToProto(w);
  if (static_cast<int>(rows.size()) == f.limit) out.set_next_before_id(rows.back().id);
  return out;
}

absl::StatusOr<std::vector<v1::WorkItemEvent>> Router::WorkItemEvents(int64_t after,
                                                                      const std::string& queue,
                                                                      int limit) {
  POSTROOM_ASSIGN_OR_RETURN(std::vector<store::WorkItemEventRecord> rows,
                            options_.store->ListWorkItemEvents(after, queue, limit));
  std::vector<v1::WorkItemEvent> out;
  for (const store::WorkItemEventRecord& e : rows) {
    v1::WorkItemEvent ev;
    ev.set_event_id(e.event_id);
    ev.set_kind(e.kind);
    ev.set_message_id(e.message_id);
    *ev.mutable_work_item() = ToProto(e.work_item);
    out.push_back(std::move(ev));
  }
  return out;
}

absl::StatusOr<int64_t> Router::LatestEventId() { return options_.store->LatestEventId(); }

}  // namespace postroom::router

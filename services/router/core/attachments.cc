// A stored message's attachments and its raw bytes, read once from the store and streamed out
// in chunks (libs/mime/attachments.h decodes them); the viewer API of issue #20.
#include "libs/mime/attachments.h"

#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"
#include "services/router/core/internal.h"

namespace postroom::router {

v1::Attachment AttachmentProto(const mime::Attachment& a, size_t index, int64_t message_id) {
  v1::Attachment out;
  out.set_index(static_cast<uint32_t>(index));
  out.set_filename(a.filename);
  out.set_content_type(a.content_type);
  out.set_size(a.size);
  out.set_content_id(a.content_id);
  out.set_disposition(a.disposition);
  out.set_sha256(a.sha256);
  out.set_is_inline(a.is_inline);
  out.set_message_id(message_id);
  return out;
}

absl::StatusOr<Router::KeptMessage> Router::ReadKeptMessage(int64_t id) {
  if (id <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("message_id: must be a stored message's id (above 0), not ", id));
  }
  POSTROOM_ASSIGN_OR_RETURN(store::MessageRecord m, options_.store->GetMessage(id, true));
  if (m.truncated) {
    return absl::FailedPreconditionError(absl::StrCat(
        "message ", id, " was over its connector's max_message_bytes: only its header block (",
        m.raw.size(), " of ", m.size_bytes, " bytes) was stored, so it has no attachments to read"));
  }
  if (m.forgotten) {
    return absl::FailedPreconditionError(absl::StrCat(
        "message ", id, ": forgotten on request; its decision remains, its bytes do not"));
  }
  if (m.raw.empty()) {
    // Retention (issue #20) removes the raw bytes of old decided messages; the row stays.
    return absl::FailedPreconditionError(absl::StrCat(
        "message ", id, ": its raw bytes are no longer stored (removed after its retention); "
        "the decision and work item remain"));
  }
  KeptMessage out;
  // The limits the message was routed under, so indexes match what its work item lists; a
  // connector deleted since falls back to the router's own.
  out.limits = options_.parse_limits;
  if (!m.connector.empty()) {
    absl::StatusOr<std::shared_ptr<const ConnectorConfig>> cfg = Config(m.connector);
    if (cfg.ok()) out.limits = (*cfg)->parse_limits;
  }
  out.record = std::move(m);
  return out;
}

absl::StatusOr<v1::ListAttachmentsResponse> Router::ListAttachments(
    const v1::ListAttachmentsRequest& request) {
  POSTROOM_ASSIGN_OR_RETURN(KeptMessage m, ReadKeptMessage(request.message_id()));
  POSTROOM_ASSIGN_OR_RETURN(std::vector<mime::Attachment> list,
                            mime::ListAttachments(m.record.raw, m.limits));
  v1::ListAttachmentsResponse out;
  for (size_t i = 0; i < list.size(); ++i) {
    *out.add_attachments() = AttachmentProto(list[i], i, m.record.id);
  }
  return out;
}

absl::Status Router::GetAttachment(const v1::GetAttachmentRequest& request,
                                   const ChunkSink& sink) {
  POSTROOM_ASSIGN_OR_RETURN(KeptMessage m, ReadKeptMessage(request.message_id()));
  v1::DataChunk chunk;
  bool first = true;
  absl::Status st = mime::StreamAttachment(
      m.record.raw, request.index(), m.limits,
      [&](const mime::Attachment& a, std::string_view bytes) {
        chunk.Clear();
        if (first) *chunk.mutable_attachment() = AttachmentProto(a, request.index(), m.record.id);
        first = false;
        chunk.set_data(bytes.data(), bytes.size());
        return sink(chunk);
      });
  if (absl::IsNotFound(st)) {
    return absl::NotFoundError(absl::StrCat("index: message ", m.record.id, ": ", st.message()));
  }
  return st;
}

absl::Status Router::GetRawMessage(const v1::GetRawMessageRequest& request,
                                   const ChunkSink& sink) {
  POSTROOM_ASSIGN_OR_RETURN(KeptMessage m, ReadKeptMessage(request.message_id()));
  const std::string& raw = m.record.raw;
  v1::DataChunk chunk;
  for (size_t at = 0; at < raw.size(); at += mime::kAttachmentChunkBytes) {
    chunk.Clear();
    if (at == 0) chunk.set_total_size(raw.size());
    chunk.set_data(raw.data() + at, std::min(mime::kAttachmentChunkBytes, raw.size() - at));
    POSTROOM_RETURN_IF_ERROR(sink(chunk));
  }
  return absl::OkStatus();
}

}  // namespace postroom::router

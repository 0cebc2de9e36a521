#include "libs/mime/attachments.h"

#include <gmime/gmime.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "libs/mime/part_visitor.h"

namespace postroom::mime {
namespace {

struct GObjectUnref {
  void operator()(gpointer p) const {
    if (p != nullptr) g_object_unref(p);
  }
};
template <typename T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

using Emit = std::function<absl::Status(std::string_view)>;

absl::Status EmitInChunks(std::string_view bytes, const Emit& emit) {
  for (size_t at = 0; at < bytes.size(); at += kAttachmentChunkBytes) {
    absl::Status st = emit(bytes.substr(at, kAttachmentChunkBytes));
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

// Reads `stream` to its end, handing out full chunks (the filter yields a few KiB per read).
absl::Status EmitStream(GMimeStream* stream, gint64 encoded_bytes, const Emit& emit) {
  std::string chunk(kAttachmentChunkBytes, '\0');
  size_t filled = 0;
  // Every read consumes input until the end, so reads are bounded by the input's length; the
  // bound keeps a stream that stops making progress from spinning forever.
  const gint64 max_reads = std::max<gint64>(encoded_bytes, 0) + 64;
  for (gint64 reads = 0; !g_mime_stream_eos(stream); ++reads) {
    if (reads > max_reads) {
      return absl::InternalError(absl::StrCat(
          "decoding an attachment made no progress after ", reads, " reads; report this as a bug"));
    }
    ssize_t n = g_mime_stream_read(stream, chunk.data() + filled, chunk.size() - filled);
    if (n < 0) return absl::InternalError("reading an attachment's content failed");
    filled += static_cast<size_t>(n);
    if (filled == chunk.size()) {
      absl::Status st = emit(chunk);
      if (!st.ok()) return st;
      filled = 0;
    }
  }
  return filled == 0 ? absl::OkStatus() : emit(std::string_view(chunk.data(), filled));
}

absl::Status DecodeLeaf(GMimePart* part, const Emit& emit) {
  GMimeDataWrapper* wrapper = g_mime_part_get_content(part);
  if (wrapper == nullptr) return absl::OkStatus();
  GMimeStream* content = g_mime_data_wrapper_get_stream(wrapper);
  if (content == nullptr) return absl::OkStatus();
  g_mime_stream_reset(content);
  GPtr<GMimeStream> filtered(g_mime_stream_filter_new(content));
  GMimeContentEncoding encoding = g_mime_data_wrapper_get_encoding(wrapper);
  if (encoding == GMIME_CONTENT_ENCODING_BASE64 ||
      encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
      encoding == GMIME_CONTENT_ENCODING_UUENCODE) {
    GPtr<GMimeFilter> decoder(g_mime_filter_basic_new(encoding, FALSE));
    g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered.get()), decoder.get());
  }
  absl::Status st = EmitStream(filtered.get(), g_mime_stream_length(content), emit);
  g_mime_stream_reset(content);
  return st;
}

absl::Status DecodeAttachedMessage(GMimeMessagePart* part, const Emit& emit) {
  GMimeMessage* inner = g_mime_message_part_get_message(part);
  if (inner == nullptr) return absl::OkStatus();
  GPtr<GMimeStream> mem(g_mime_stream_mem_new());
  if (g_mime_object_write_to_stream(GMIME_OBJECT(inner), nullptr, mem.get()) < 0) {
    return absl::InternalError("writing an attached message failed");
  }
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
  return EmitInChunks(std::string_view(reinterpret_cast<const char*>(bytes->data), bytes->len),
                      emit);
}

// The decoded bytes of one attachment as ParseMessageVisiting shows it.
absl::Status Decode(GMimeObject* object, std::string_view opaque, const Emit& emit) {
  if (object == nullptr) return EmitInChunks(opaque, emit);
  if (GMIME_IS_PART(object)) return DecodeLeaf(GMIME_PART(object), emit);
  if (GMIME_IS_MESSAGE_PART(object)) return DecodeAttachedMessage(GMIME_MESSAGE_PART(object), emit);
  return absl::OkStatus();  // message/partial and the like: nothing of ours to read.
}

class Hasher final : public PartVisitor {
 public:
  void Visit(size_t, Attachment& attachment, GMimeObject* object,
             std::string_view opaque) override {
    if (!status_.ok()) return;
    std::unique_ptr<GChecksum, void (*)(GChecksum*)> sum(g_checksum_new(G_CHECKSUM_SHA256),
                                                         g_checksum_free);
    uint64_t size = 0;
    status_ = Decode(object, opaque, [&](std::string_view chunk) {
      g_checksum_update(sum.get(), reinterpret_cast<const guchar*>(chunk.data()),
                        static_cast<gssize>(chunk.size()));
      size += chunk.size();
      return absl::OkStatus();
    });
    attachment.size = size;
    attachment.sha256 = g_checksum_get_string(sum.get());
  }
  absl::Status status_;
};

class Streamer final : public PartVisitor {
 public:
  Streamer(size_t index, const AttachmentSink& sink) : index_(index), sink_(sink) {}
  void Visit(size_t index, Attachment& attachment, GMimeObject* object,
             std::string_view opaque) override {
    if (index != index_) return;
    found_ = true;
    bool any = false;
    status_ = Decode(object, opaque, [&](std::string_view chunk) {
      any = true;
      return sink_(attachment, chunk);
    });
    if (status_.ok() && !any) status_ = sink_(attachment, {});
  }
  size_t index_;
  const AttachmentSink& sink_;
  bool found_ = false;
  absl::Status status_;
};

}  // namespace

absl::StatusOr<ParsedMessage> ParseMessageWithHashes(std::string_view raw,
                                                     const ParseLimits& limits) {
  Hasher hasher;
  absl::StatusOr<ParsedMessage> parsed = ParseMessageVisiting(raw, limits, &hasher);
  if (!parsed.ok()) return parsed.status();
  if (!hasher.status_.ok()) return hasher.status_;
  return parsed;
}

absl::StatusOr<std::vector<Attachment>> ListAttachments(std::string_view raw,
                                                        const ParseLimits& limits) {
  absl::StatusOr<ParsedMessage> parsed = ParseMessageWithHashes(raw, limits);
  if (!parsed.ok()) return parsed.status();
  return std::move(parsed->attachments);
}

absl::Status StreamAttachment(std::string_view raw, size_t index, const ParseLimits& limits,
                              const AttachmentSink& sink) {
  Streamer streamer(index, sink);
  absl::StatusOr<ParsedMessage> parsed = ParseMessageVisiting(raw, limits, &streamer);
  if (!parsed.ok()) return parsed.status();
  if (!streamer.found_) {
    size_t n = parsed->attachments.size();
    return absl::NotFoundError(
        n == 0 ? absl::StrCat("attachment ", index, " does not exist: the message has none")
               : absl::StrCat("attachment ", index, " does not exist: the message has ", n,
                              " (indexes 0 to ", n - 1, ")"));
  }
  return streamer.status_;
}

}  // namespace postroom::mime

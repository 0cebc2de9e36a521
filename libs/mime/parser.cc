#include "libs/mime/parser.h"

#include <gmime/gmime.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/mime/bounds.h"
#include "libs/mime/charset.h"
#include "libs/mime/part_visitor.h"

namespace postroom::mime {
namespace {

std::once_flag g_init_once;

void EnsureGMimeInitialized() {
  std::call_once(g_init_once, [] { g_mime_init(); });
}

struct GObjectUnref {
  void operator()(gpointer p) const {
    if (p != nullptr) g_object_unref(p);
  }
};
template <typename T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

struct GFree {
  void operator()(gpointer p) const { g_free(p); }
};
using GString_ = std::unique_ptr<char, GFree>;

struct OptionsFree {
  void operator()(GMimeParserOptions* p) const { g_mime_parser_options_free(p); }
};
using OptionsPtr = std::unique_ptr<GMimeParserOptions, OptionsFree>;

constexpr size_t kMaxDefects = 64;
constexpr size_t kMaxReportBytes = 256 << 10;
constexpr size_t kMaxReferences = 1000;

std::string_view Sv(const char* s) { return s == nullptr ? std::string_view() : s; }

std::string_view TrimWhitespace(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view StripAngles(std::string_view s) {
  s = TrimWhitespace(s);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  return TrimWhitespace(s);
}

// A header value that needs no decoding: ASCII, unfolded, no encoded word.
bool IsPlainAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80 || c == '\n' || c == '\r') return false;
  }
  return s.find("=?") == std::string_view::npos;
}

// Turns "\r\n" (and lone "\r") into "\n" in place.
void NormalizeLineEnds(std::string& s) {
  if (s.find('\r') == std::string::npos) return;
  size_t w = 0;
  for (size_t r = 0; r < s.size(); ++r) {
    if (s[r] == '\r') {
      s[w++] = '\n';
      if (r + 1 < s.size() && s[r + 1] == '\n') ++r;
    } else {
      s[w++] = s[r];
    }
  }
  s.resize(w);
}

// Cuts at most `max` bytes on a UTF-8 character boundary. Returns true if it cut.
bool TruncateUtf8(std::string& s, size_t max) {
  if (s.size() <= max) return false;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return true;
}

// Exact decoded size of base64 text without decoding it: GMime's decoder skips every byte
// outside the alphabet (line ends, '=') and emits 3 bytes per 4 alphabet characters.
uint64_t Base64DecodedSize(std::string_view text) {
  uint64_t n = 0;
  for (unsigned char c : text) {
    n += ((c >= 'A' && c <= 'Z') | (c >= 'a' && c <= 'z') | (c >= '0' && c <= '9') | (c == '+') |
          (c == '/'));
  }
  return n / 4 * 3 + (n % 4 == 3 ? 2 : n % 4 == 2 ? 1 : 0);
}

// True if the message has CR line ends and no LF in its first 64 KiB (classic Mac mail).
bool UsesBareCr(std::string_view raw) {
  std::string_view head = raw.substr(0, 64 << 10);
  return head.find('\n') == std::string_view::npos && head.find('\r') != std::string_view::npos;
}

std::string DefectForWarning(GMimeParserWarning code, const char* item) {
  switch (code) {
    case GMIME_WARN_DUPLICATED_HEADER:
      return absl::StrCat("duplicated_header:", AsciiLower(Sv(item).substr(0, 64)));
    case GMIME_WARN_DUPLICATED_PARAMETER:
      return "duplicated_parameter";
    case GMIME_WARN_UNENCODED_8BIT_HEADER:
      return "unencoded_8bit_header";
    case GMIME_WARN_INVALID_CONTENT_TYPE:
      return "invalid_content_type";
    case GMIME_WARN_INVALID_RFC2047_HEADER_VALUE:
      return "bad_encoded_word";
    case GMIME_WARN_MALFORMED_MULTIPART:
      return "malformed_multipart";
    case GMIME_WARN_TRUNCATED_MESSAGE:
      return "truncated_part";
    case GMIME_WARN_MALFORMED_MESSAGE:
      return "malformed_message";
    case GMIME_CRIT_INVALID_HEADER_NAME:
      return "invalid_header_name";
    case GMIME_CRIT_CONFLICTING_HEADER:
      return absl::StrCat("conflicting_header:", AsciiLower(Sv(item).substr(0, 64)));
    case GMIME_CRIT_CONFLICTING_PARAMETER:
      return "conflicting_parameter";
    case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
      return "missing_boundary";
    case GMIME_WARN_INVALID_PARAMETER:
      return "invalid_parameter";
    case GMIME_WARN_INVALID_ADDRESS_LIST:
      return "invalid_address_list";
    case GMIME_CRIT_NESTING_OVERFLOW:
      return "depth_limit";
    case GMIME_WARN_PART_WITHOUT_CONTENT:
      return "part_without_content";
    case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
      return "part_without_headers_or_content";
  }
  return absl::StrCat("gmime_warning:", static_cast<int>(code));
}

void AddDefectTo(ParsedMessage& out, std::string defect) {
  if (out.defects.size() >= kMaxDefects) return;
  if (std::find(out.defects.begin(), out.defects.end(), defect) != out.defects.end()) return;
  // Item text in a defect comes from the message: keep the JSON and logs valid.
  out.defects.push_back(SanitizeUtf8(defect));
}

void AppendAddresses(InternetAddressList* list, std::vector<Address>& out, int depth) {
  if (list == nullptr || depth > 3) return;
  int n = internet_address_list_length(list);
  for (int i = 0; i < n && out.size() < 10000; ++i) {
    InternetAddress* ia = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_GROUP(ia)) {
      AppendAddresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), out,
                      depth + 1);
    } else if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
      Address a;
      a.name = SanitizeUtf8(Sv(internet_address_get_name(ia)));
      a.address = SanitizeUtf8(AsciiLower(
          TrimWhitespace(Sv(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia))))));
      if (a.address.empty() && a.name.empty()) continue;
      out.push_back(std::move(a));
    }
  }
}

std::vector<Address> ParseAddresses(GMimeParserOptions* options, std::string_view value) {
  std::vector<Address> out;
  std::string text(value);
  GPtr<InternetAddressList> list(internet_address_list_parse(options, text.c_str()));
  AppendAddresses(list.get(), out, 0);
  return out;
}

std::vector<std::string> ParseIds(GMimeParserOptions* options, std::string_view value) {
  std::vector<std::string> ids;
  std::string text(value);
  GMimeReferences* refs = g_mime_references_parse(options, text.c_str());
  if (refs != nullptr) {
    int n = g_mime_references_length(refs);
    for (int i = 0; i < n && ids.size() < kMaxReferences; ++i) {
      std::string_view id = TrimWhitespace(Sv(g_mime_references_get_message_id(refs, i)));
      if (!id.empty()) ids.push_back(SanitizeUtf8(id));
    }
    g_mime_references_free(refs);
  }
  if (ids.empty()) {
    // Not an id list GMime understands (no angle brackets, say): keep the bare token.
    std::string_view bare = StripAngles(value);
    if (!bare.empty() && bare.find_first_of(" \t\r\n") == std::string_view::npos) {
      ids.push_back(SanitizeUtf8(bare));
    }
  }
  return ids;
}

// Decoded, unfolded header value. GMime decodes encoded words and reads unencoded 8-bit
// text with the fallback charsets; the result is sanitised in any case.
std::string DecodeHeaderValue(GMimeParserOptions* options, std::string_view raw) {
  std::string_view trimmed = TrimWhitespace(raw);
  if (IsPlainAscii(trimmed)) return std::string(trimmed);
  // Unfold here (drop CR and LF): most folded fields (Received, DKIM-Signature) are plain
  // ASCII and need nothing from GMime after that.
  std::string text;
  text.reserve(trimmed.size());
  bool ascii = true;
  for (char c : trimmed) {
    if (c == '\r' || c == '\n') continue;
    if (static_cast<unsigned char>(c) >= 0x80) ascii = false;
    text.push_back(c);
  }
  // Without encoded words GMime would only read the 8-bit text with the fallback charsets, of
  // which UTF-8 comes first; doing that here skips its per-word charset conversions (~80 ns a
  // byte, 1.3 s for a 16 MiB header block).
  if (text.find("=?") == std::string::npos && (ascii || IsValidUtf8(text))) return text;
  GString_ decoded(g_mime_utils_header_decode_text(options, text.c_str()));
  return SanitizeUtf8(TrimWhitespace(Sv(decoded.get())));
}

Importance ImportanceFromHeaders(const ParsedMessage& m) {
  if (const Header* h = m.FindHeader("Importance")) {
    std::string v = AsciiLower(TrimWhitespace(h->value));
    if (v == "high") return Importance::kHigh;
    if (v == "low") return Importance::kLow;
    if (v == "normal") return Importance::kNormal;
  }
  if (const Header* h = m.FindHeader("X-Priority")) {
    std::string_view v = TrimWhitespace(h->value);
    if (!v.empty() && v[0] >= '1' && v[0] <= '5') {
      if (v[0] <= '2') return Importance::kHigh;
      if (v[0] >= '4') return Importance::kLow;
      return Importance::kNormal;
    }
  }
  for (const char* name : {"Priority", "X-MSMail-Priority"}) {
    if (const Header* h = m.FindHeader(name)) {
      std::string v = AsciiLower(TrimWhitespace(h->value));
      if (v == "urgent" || v == "high") return Importance::kHigh;
      if (v == "non-urgent" || v == "low") return Importance::kLow;
      if (v == "normal") return Importance::kNormal;
    }
  }
  return Importance::kNormal;
}

// One parse: owns the GMime objects of a single ParseMessage call.
class Walker {
 public:
  Walker(std::string_view raw, GByteArray* array, GMimeParserOptions* options,
         const ParseLimits& limits, ParsedMessage& out, PartVisitor* visitor)
      : raw_(raw),
        array_(array),
        options_(options),
        limits_(limits),
        out_(out),
        visitor_(visitor) {}

  void AddDefect(std::string defect) { AddDefectTo(out_, std::move(defect)); }

  void ReadHeaders(GMimeMessage* message);
  void ReadEnvelope(GMimeMessage* message);
  void Walk(GMimeObject* object, std::string_view parent_subtype, bool in_related, int depth);

 private:
  void Leaf(GMimePart* part, std::string type, std::string_view parent_subtype, bool in_related);
  // Appends `a` to out_.attachments and shows it to visitor_ while `object` is alive.
  void AddAttachment(Attachment a, GMimeObject* object);
  void AttachedMessage(GMimeMessagePart* part, std::string type, bool in_related);
  // The part's content still transfer-encoded: a view into raw_ when GMime kept it as a
  // substream of the message (the usual case), else a copy read from the stream into storage.
  std::string_view EncodedContent(GMimeDataWrapper* wrapper, std::string& storage);
  // The part's content with the transfer encoding undone.
  std::string DecodedContent(GMimePart* part);
  uint64_t DecodedSize(GMimePart* part);
  // Decoded to UTF-8 with "\n" line ends, at most `max` bytes.
  std::string TextOf(GMimePart* part, size_t max);

  std::string_view raw_;
  GByteArray* array_;
  GMimeParserOptions* options_;
  const ParseLimits& limits_;
  ParsedMessage& out_;
  PartVisitor* visitor_;
  int parts_seen_ = 0;
};

void Walker::AddAttachment(Attachment a, GMimeObject* object) {
  a.disposition = object == nullptr ? std::string()
                                    : SanitizeUtf8(AsciiLower(TrimWhitespace(
                                          Sv(g_mime_object_get_disposition(object)))));
  out_.attachments.push_back(std::move(a));
  if (visitor_ != nullptr) {
    visitor_->Visit(out_.attachments.size() - 1, out_.attachments.back(), object, {});
  }
}

void Walker::ReadHeaders(GMimeMessage* message) {
  // GMime files the Content-* fields under the top-level part and the rest under the
  // message; their stream offsets put them back in message order.
  std::vector<std::pair<gint64, GMimeHeader*>> fields;
  for (GMimeObject* object : {GMIME_OBJECT(message), g_mime_message_get_mime_part(message)}) {
    GMimeHeaderList* list = object ? g_mime_object_get_header_list(object) : nullptr;
    if (list == nullptr) continue;
    int n = g_mime_header_list_get_count(list);
    for (int i = 0; i < n; ++i) {
      GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
      fields.emplace_back(g_mime_header_get_offset(h), h);
    }
  }
  std::stable_sort(fields.begin(), fields.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  out_.headers.reserve(fields.size());
  size_t total = 0;
  for (const auto& [offset, h] : fields) {
    std::string_view name = Sv(g_mime_header_get_name(h));
    std::string_view raw_value = Sv(g_mime_header_get_raw_value(h));
    // GMime keeps the blank after the colon and the line end; the value is what is between.
    while (!raw_value.empty() && (raw_value.front() == ' ' || raw_value.front() == '\t')) {
      raw_value.remove_prefix(1);
    }
    while (!raw_value.empty() && (raw_value.back() == '\n' || raw_value.back() == '\r')) {
      raw_value.remove_suffix(1);
    }
    if (raw_value.size() > limits_.max_header_field_bytes) {
      AddDefect("header_too_long");
      raw_value = raw_value.substr(0, limits_.max_header_field_bytes);
    }
    total += name.size() + raw_value.size();
    if (total > limits_.max_header_bytes) {
      AddDefect("header_limit");
      break;
    }
    Header header;
    header.name = SanitizeUtf8(name);
    header.raw_value.assign(raw_value);
    header.value = DecodeHeaderValue(options_, raw_value);
    out_.headers.push_back(std::move(header));
  }
}

void Walker::ReadEnvelope(GMimeMessage* message) {
  out_.subject = SanitizeUtf8(TrimWhitespace(Sv(g_mime_message_get_subject(message))));
  AppendAddresses(g_mime_message_get_from(message), out_.from, 0);
  AppendAddresses(g_mime_message_get_sender(message), out_.sender, 0);
  AppendAddresses(g_mime_message_get_reply_to(message), out_.reply_to, 0);
  AppendAddresses(g_mime_message_get_to(message), out_.to, 0);
  AppendAddresses(g_mime_message_get_cc(message), out_.cc, 0);
  AppendAddresses(g_mime_message_get_bcc(message), out_.bcc, 0);
  for (const Header& h : out_.headers) {
    if (EqualsIgnoreCase(h.name, "Delivered-To")) {
      for (Address& a : ParseAddresses(options_, h.raw_value)) {
        out_.delivered_to.push_back(std::move(a));
      }
    } else if (EqualsIgnoreCase(h.name, "X-Original-To")) {
      for (Address& a : ParseAddresses(options_, h.raw_value)) {
        out_.x_original_to.push_back(std::move(a));
      }
    }
  }
  if (const Header* rp = out_.FindHeader("Return-Path")) {
    std::string_view v = TrimWhitespace(rp->raw_value);
    std::string_view inner = StripAngles(v);
    if (inner.empty() || inner == "<>") {
      out_.has_null_return_path = true;
    } else {
      std::vector<Address> a = ParseAddresses(options_, v);
      out_.return_path = a.empty() ? AsciiLower(SanitizeUtf8(inner)) : a.front().address;
    }
  }

  out_.message_id = SanitizeUtf8(TrimWhitespace(Sv(g_mime_message_get_message_id(message))));
  if (const Header* h = out_.FindHeader("In-Reply-To")) {
    std::vector<std::string> ids = ParseIds(options_, h->raw_value);
    if (!ids.empty()) out_.in_reply_to = std::move(ids.front());
  }
  if (const Header* h = out_.FindHeader("References")) {
    out_.references = ParseIds(options_, h->raw_value);
  }
  if (GDateTime* date = g_mime_message_get_date(message)) {
    out_.date = absl::FromUnixSeconds(g_date_time_to_unix(date));
  } else if (const Header* h = out_.FindHeader("Date"); h != nullptr) {
    AddDefect("bad_date");
  }
  out_.importance = ImportanceFromHeaders(out_);
}

void Walker::Walk(GMimeObject* object, std::string_view parent_subtype, bool in_related,
                  int depth) {
  if (object == nullptr) return;
  if (parts_seen_ >= limits_.max_parts) {
    AddDefect("part_limit");
    return;
  }
  if (depth > limits_.max_depth) {
    AddDefect("depth_limit");
    return;
  }
  ++parts_seen_;
  GMimeContentType* ct = g_mime_object_get_content_type(object);
  std::string media = AsciiLower(Sv(ct ? g_mime_content_type_get_media_type(ct) : nullptr));
  std::string subtype = AsciiLower(Sv(ct ? g_mime_content_type_get_media_subtype(ct) : nullptr));
  if (media.empty()) media = "text";
  if (subtype.empty()) subtype = "plain";
  std::string type = SanitizeUtf8(absl::StrCat(media, "/", subtype));
  out_.parts.push_back(type);

  if (GMIME_IS_MULTIPART(object)) {
    GMimeMultipart* multipart = GMIME_MULTIPART(object);
    if (subtype == "report" && out_.report.report_type.empty()) {
      out_.report.report_type = SanitizeUtf8(AsciiLower(
          TrimWhitespace(Sv(g_mime_object_get_content_type_parameter(object, "report-type")))));
    }
    bool related = in_related || subtype == "related";
    int n = g_mime_multipart_get_count(multipart);
    if (n == 0) {
      // No boundary line matched (a wrong or missing boundary): GMime keeps everything as the
      // prologue. Keep it readable as the text body rather than losing the content.
      std::string_view prologue = Sv(g_mime_multipart_get_prologue(multipart));
      if (!prologue.empty() && out_.text_body.empty()) {
        AddDefect("multipart_without_parts");
        CharsetResult text = ConvertToUtf8(prologue, "");
        NormalizeLineEnds(text.text);
        TruncateUtf8(text.text, limits_.max_body_bytes);
        out_.text_body = std::move(text.text);
      }
    }
    for (int i = 0; i < n; ++i) {
      Walk(g_mime_multipart_get_part(multipart, i), subtype, related, depth + 1);
      if (parts_seen_ >= limits_.max_parts && i + 1 < n) {
        AddDefect("part_limit");
        break;
      }
    }
  } else if (GMIME_IS_MESSAGE_PART(object)) {
    AttachedMessage(GMIME_MESSAGE_PART(object), std::move(type), in_related);
  } else if (GMIME_IS_PART(object)) {
    Leaf(GMIME_PART(object), std::move(type), parent_subtype, in_related);
  } else {
    // message/partial and anything else GMime models without content of ours to read.
    Attachment a;
    a.content_type = std::move(type);
    AddAttachment(std::move(a), object);
  }
}

void Walker::AttachedMessage(GMimeMessagePart* part, std::string type, bool in_related) {
  GMimeObject* object = GMIME_OBJECT(part);
  GMimeMessage* inner = g_mime_message_part_get_message(part);
  Attachment a;
  a.content_type = std::move(type);
  std::string_view filename =
      Sv(g_mime_object_get_content_disposition_parameter(object, "filename"));
  if (filename.empty()) filename = Sv(g_mime_object_get_content_type_parameter(object, "name"));
  a.filename = SanitizeUtf8(filename);
  a.content_id = SanitizeUtf8(StripAngles(Sv(g_mime_object_get_content_id(object))));
  if (inner != nullptr) {
    // Its size as GMime writes it back; attached messages are rare and mostly small (bounces).
    GPtr<GMimeStream> null_stream(g_mime_stream_null_new());
    ssize_t n = g_mime_object_write_to_stream(GMIME_OBJECT(inner), nullptr, null_stream.get());
    a.size = n > 0 ? static_cast<uint64_t>(n) : 0;
    if (!out_.report.has_original_message) {
      out_.report.has_original_message = true;
      out_.report.original_message_id =
          SanitizeUtf8(TrimWhitespace(Sv(g_mime_message_get_message_id(inner))));
    }
  }
  std::string_view disposition = Sv(g_mime_object_get_disposition(object));
  a.is_inline =
      !EqualsIgnoreCase(disposition, "attachment") && (in_related || !a.content_id.empty());
  AddAttachment(std::move(a), object);
}

std::string_view Walker::EncodedContent(GMimeDataWrapper* wrapper, std::string& storage) {
  GMimeStream* stream = g_mime_data_wrapper_get_stream(wrapper);
  if (stream == nullptr) return {};
  // GMime's parser keeps a part's content as a bounded substream of the message stream; for a
  // memory stream the substream shares its byte array, so the bounds are offsets into raw_.
  // The fields are GMime's public struct members (gmime-stream.h, gmime-stream-mem.h).
  if (GMIME_IS_STREAM_MEM(stream) && GMIME_STREAM_MEM(stream)->buffer == array_) {
    gint64 start = stream->bound_start;
    gint64 end = stream->bound_end < 0 ? static_cast<gint64>(raw_.size()) : stream->bound_end;
    if (start >= 0 && start <= end && end <= static_cast<gint64>(raw_.size())) {
      return raw_.substr(static_cast<size_t>(start), static_cast<size_t>(end - start));
    }
  }
  g_mime_stream_reset(stream);
  char buf[16384];
  for (;;) {
    ssize_t n = g_mime_stream_read(stream, buf, sizeof buf);
    if (n <= 0) break;
    storage.append(buf, static_cast<size_t>(n));
  }
  g_mime_stream_reset(stream);
  return storage;
}

std::string Walker::DecodedContent(GMimePart* part) {
  GMimeDataWrapper* wrapper = g_mime_part_get_content(part);
  if (wrapper == nullptr) return {};
  GMimeContentEncoding encoding = g_mime_data_wrapper_get_encoding(wrapper);
  std::string storage;
  std::string_view encoded = EncodedContent(wrapper, storage);
  switch (encoding) {
    case GMIME_CONTENT_ENCODING_BASE64:
    case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE: {
      GMimeEncoding state;
      g_mime_encoding_init_decode(&state, encoding);
      std::string out;
      out.resize(g_mime_encoding_outlen(&state, encoded.size()));
      size_t n = g_mime_encoding_flush(&state, encoded.data(), encoded.size(), out.data());
      out.resize(std::min(n, out.size()));
      return out;
    }
    case GMIME_CONTENT_ENCODING_UUENCODE: {
      // The uudecode filter also finds the "begin" line; rare enough for a stream copy.
      GPtr<GMimeStream> mem(g_mime_stream_mem_new());
      g_mime_data_wrapper_write_to_stream(wrapper, mem.get());
      GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
      return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
    }
    default:
      return storage.empty() ? std::string(encoded) : std::move(storage);
  }
}

uint64_t Walker::DecodedSize(GMimePart* part) {
  GMimeDataWrapper* wrapper = g_mime_part_get_content(part);
  if (wrapper == nullptr) return 0;
  GMimeContentEncoding encoding = g_mime_data_wrapper_get_encoding(wrapper);
  if (encoding == GMIME_CONTENT_ENCODING_BASE64) {
    std::string storage;
    return Base64DecodedSize(EncodedContent(wrapper, storage));
  }
  if (encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
      encoding == GMIME_CONTENT_ENCODING_UUENCODE) {
    return DecodedContent(part).size();
  }
  std::string storage;
  return EncodedContent(wrapper, storage).size();
}

std::string Walker::TextOf(GMimePart* part, size_t max) {
  std::string bytes = DecodedContent(part);
  std::string_view charset =
      TrimWhitespace(Sv(g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset")));
  CharsetResult converted = ConvertToUtf8(bytes, charset);
  if (converted.bad_charset) {
    AddDefect(absl::StrCat("bad_charset:", AsciiLower(charset.substr(0, 64))));
  }
  NormalizeLineEnds(converted.text);
  if (TruncateUtf8(converted.text, max)) AddDefect("body_truncated");
  return std::move(converted.text);
}

void Walker::Leaf(GMimePart* part, std::string type, std::string_view parent_subtype,
                  bool in_related) {
  GMimeObject* object = GMIME_OBJECT(part);
  std::string_view disposition = Sv(g_mime_object_get_disposition(object));
  bool attachment_disposition = EqualsIgnoreCase(disposition, "attachment");
  std::string_view filename = Sv(g_mime_part_get_filename(part));

  bool plain = type == "text/plain";
  bool html = type == "text/html";
  if ((plain || html) && !attachment_disposition && filename.empty()) {
    std::string& body = plain ? out_.text_body : out_.html_body;
    if (body.empty()) {
      body = TextOf(part, limits_.max_body_bytes);
      return;
    }
    if (plain && parent_subtype == "mixed" && body.size() < limits_.max_body_bytes) {
      // Mail clients split a body around inline images into several text parts.
      std::string more = TextOf(part, limits_.max_body_bytes - body.size());
      if (!body.empty() && body.back() != '\n') body.push_back('\n');
      body += more;
      return;
    }
  }

  if (type == "message/delivery-status" || type == "message/global-delivery-status") {
    if (out_.report.delivery_status.size() < kMaxReportBytes) {
      out_.report.delivery_status += TextOf(part, kMaxReportBytes);
    }
  } else if (type == "message/feedback-report") {
    if (out_.report.feedback_report.empty()) {
      out_.report.feedback_report = TextOf(part, kMaxReportBytes);
    }
  } else if (type == "message/disposition-notification" ||
             type == "message/global-disposition-notification") {
    if (out_.report.disposition_notification.empty()) {
      out_.report.disposition_notification = TextOf(part, kMaxReportBytes);
    }
  } else if (type == "text/rfc822-headers" || type == "message/global-headers") {
    if (!out_.report.has_original_message) {
      out_.report.has_original_message = true;
      std::string text = TextOf(part, kMaxReportBytes);
      for (const Header& h : ParseHeaderBlock(text, limits_)) {
        if (EqualsIgnoreCase(h.name, "Message-ID")) {
          std::vector<std::string> ids = ParseIds(options_, h.raw_value);
          if (!ids.empty()) out_.report.original_message_id = ids.front();
          break;
        }
      }
    }
  }

  Attachment a;
  a.filename = SanitizeUtf8(filename);
  a.content_type = std::move(type);
  a.size = DecodedSize(part);
  a.content_id = SanitizeUtf8(StripAngles(Sv(g_mime_part_get_content_id(part))));
  a.is_inline = !attachment_disposition && (in_related || !a.content_id.empty());
  AddAttachment(std::move(a), object);
}

GMimeParserOptions* NewOptions() {
  GMimeParserOptions* options = g_mime_parser_options_new();
  // Unencoded 8-bit header text: UTF-8 if it is valid, else what Windows clients send.
  static const char* kFallback[] = {"utf-8", "windows-1252", nullptr};
  g_mime_parser_options_set_fallback_charsets(options, kFallback);
  g_mime_parser_options_set_address_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_parameter_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_rfc2047_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_allow_addresses_without_domain(options, TRUE);
  return options;
}

void OnWarning(gint64 offset, GMimeParserWarning code, const gchar* item, gpointer user_data) {
  static_cast<Walker*>(user_data)->AddDefect(DefectForWarning(code, item));
}

absl::StatusOr<ParsedMessage> ParseImpl(std::string_view raw, const ParseLimits& limits,
                                        PartVisitor* visitor) {
  ParsedMessage out;
  std::string converted;
  if (UsesBareCr(raw)) {
    converted.assign(raw);
    std::replace(converted.begin(), converted.end(), '\r', '\n');
    raw = converted;
    AddDefectTo(out, "bare_cr_line_ends");
  }

  OptionsPtr options(NewOptions());
  // Limits must hold while GMime parses, not after: cut what lies beyond them first.
  BoundedInput bounded = BoundInput(raw, limits, options.get());
  // What lies past a cut is the last opaque_bytes of the input, kept as it came.
  std::string_view opaque = raw.substr(raw.size() - std::min<uint64_t>(bounded.opaque_bytes,
                                                                         raw.size()));
  for (std::string& defect : bounded.defects) AddDefectTo(out, std::move(defect));
  if (bounded.rewritten) raw = bounded.text;

  // The byte array borrows raw's bytes (GMime only reads them); it is released without
  // freeing them once every GMime object that could point into it is gone.
  GByteArray* array =
      g_byte_array_new_take(reinterpret_cast<guint8*>(const_cast<char*>(raw.data())), raw.size());
  struct ArrayRelease {
    GByteArray* array;
    ~ArrayRelease() { g_byte_array_free(array, FALSE); }
  } release{array};

  Walker walker(raw, array, options.get(), limits, out, visitor);
  g_mime_parser_options_set_warning_callback(options.get(), OnWarning, &walker);
  {
    GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_byte_array(array));
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream.get()), FALSE);
    GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
    GPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), options.get()));
    if (message == nullptr) {
      walker.AddDefect("not_a_message");
    } else {
      walker.ReadHeaders(message.get());
      walker.ReadEnvelope(message.get());
      walker.Walk(g_mime_message_get_mime_part(message.get()), "", false, 0);
      if (out.headers.empty()) walker.AddDefect("no_headers");
    }
  }
  if (bounded.opaque_bytes > 0) {
    Attachment rest;
    rest.content_type = "application/octet-stream";
    rest.size = bounded.opaque_bytes;
    out.attachments.push_back(std::move(rest));
    if (visitor != nullptr) {
      visitor->Visit(out.attachments.size() - 1, out.attachments.back(), nullptr, opaque);
    }
  }
  // GMime may report a last warning while objects are released; none may follow this line.
  g_mime_parser_options_set_warning_callback(options.get(), nullptr, nullptr);
  return out;
}

}  // namespace

const char* ImportanceName(Importance importance) {
  switch (importance) {
    case Importance::kLow:
      return "low";
    case Importance::kHigh:
      return "high";
    case Importance::kNormal:
      break;
  }
  return "normal";
}

const Header* ParsedMessage::FindHeader(std::string_view name) const {
  for (const Header& h : headers) {
    if (EqualsIgnoreCase(h.name, name)) return &h;
  }
  return nullptr;
}

std::vector<std::string_view> ParsedMessage::HeaderValues(std::string_view name) const {
  std::vector<std::string_view> values;
  for (const Header& h : headers) {
    if (EqualsIgnoreCase(h.name, name)) values.push_back(h.value);
  }
  return values;
}

bool ParsedMessage::HasDefect(std::string_view defect) const {
  return std::find(defects.begin(), defects.end(), defect) != defects.end();
}

absl::StatusOr<ParsedMessage> ParseMessage(std::string_view raw, const ParseLimits& limits) {
  return ParseMessageVisiting(raw, limits, nullptr);
}

absl::StatusOr<ParsedMessage> ParseMessageVisiting(std::string_view raw, const ParseLimits& limits,
                                                   PartVisitor* visitor) {
  if (raw.empty()) {
    return absl::InvalidArgumentError(
        "cannot parse the message: it is empty (0 bytes); pass the raw RFC 5322 bytes");
  }
  if (raw.size() > (size_t{1} << 31)) {
    // GMime's memory stream holds a GByteArray, whose length is 32 bits.
    return absl::InvalidArgumentError(absl::StrCat("cannot parse the message: ", raw.size(),
                                                   " bytes is more than 2 GiB; refuse it earlier"));
  }
  if (limits.max_message_bytes != 0 && raw.size() > limits.max_message_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot parse the message: ", raw.size(), " bytes is more than the limit of ",
        limits.max_message_bytes, " bytes; raise ParseLimits::max_message_bytes to accept it"));
  }
  EnsureGMimeInitialized();
  try {
    return ParseImpl(raw, limits, visitor);
  } catch (const std::bad_alloc&) {
    return absl::InternalError(absl::StrCat("cannot parse the message of ", raw.size(),
                                            " bytes: out of memory; retry with more memory"));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot parse the message of ", raw.size(),
                                            " bytes: ", e.what(), "; report this as a bug"));
  }
}

std::vector<Header> ParseHeaderBlock(std::string_view block, const ParseLimits& limits) {
  EnsureGMimeInitialized();
  std::vector<Header> headers;
  OptionsPtr options(NewOptions());
  size_t total = 0;
  size_t pos = 0;
  while (pos < block.size()) {
    size_t eol = block.find('\n', pos);
    if (eol == std::string_view::npos) eol = block.size();
    std::string_view line = block.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // End of the header block.
    size_t next = eol + 1;
    if (line.front() == ' ' || line.front() == '\t') {
      pos = next;  // A continuation without a field before it: skip.
      continue;
    }
    // Gather the continuation lines.
    size_t end = eol;
    while (next < block.size() && (block[next] == ' ' || block[next] == '\t')) {
      size_t e = block.find('\n', next);
      if (e == std::string_view::npos) e = block.size();
      end = e;
      next = e + 1;
    }
    std::string_view field = block.substr(pos, end - pos);
    pos = next;
    size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    std::string_view name = TrimWhitespace(field.substr(0, colon));
    std::string_view value = TrimWhitespace(field.substr(colon + 1));
    if (name.empty() || name.find_first_of(" \t") != std::string_view::npos) continue;
    if (value.size() > limits.max_header_field_bytes) {
      value = value.substr(0, limits.max_header_field_bytes);
    }
    total += name.size() + value.size();
    if (total > limits.max_header_bytes ||
        static_cast<int64_t>(headers.size()) >= limits.max_header_fields) {
      break;
    }
    Header h;
    h.name = SanitizeUtf8(name);
    h.raw_value.assign(value);
    h.value = DecodeHeaderValue(options.get(), value);
    headers.push_back(std::move(h));
  }
  return headers;
}

std::vector<Address> ParseAddressList(std::string_view value) {
  EnsureGMimeInitialized();
  OptionsPtr options(NewOptions());
  return ParseAddresses(options.get(), value);
}

std::vector<std::string> ParseMessageIds(std::string_view value) {
  EnsureGMimeInitialized();
  OptionsPtr options(NewOptions());
  return ParseIds(options.get(), value);
}

}  // namespace postroom::mime

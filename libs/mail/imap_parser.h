#pragma once

// The pure half of the IMAP client: framing and parsing of server responses (RFC 3501 section
// 7 and 9), plus the small encoders commands need. No I/O, no clock: unit tests and the fuzzer
// (libs/mail/fuzz/imap_parser_fuzz.cc) drive it with byte strings. Never crashes on bad input;
// every error is INTERNAL with MailErrorClass kProtocol and says at which byte.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace postroom::mail {

// One token of a data response: an atom (including numbers, flags such as \Seen and section
// names such as BODY[]<0>), a string (quoted or literal), NIL, or a parenthesised list.
struct ImapValue {
  enum class Kind { kAtom, kString, kNil, kList };
  Kind kind = Kind::kAtom;
  // Atom text or unescaped quoted string.
  std::string text;
  // For literals: the bytes inside the response buffer given to ParseImapResponse (no copy, so a
  // 30 MB message is not held twice). Valid as long as that buffer is.
  bool is_literal = false;
  absl::string_view literal;
  std::vector<ImapValue> list;

  // The atom's or string's bytes, literal or not.
  absl::string_view Text() const { return is_literal ? literal : absl::string_view(text); }
  // The value as an unsigned number when it is an atom of 1-19 digits.
  std::optional<uint64_t> AsNumber() const;
  // Case-insensitive atom comparison.
  bool IsAtom(absl::string_view name) const;
};

// One complete server response.
struct ImapResponse {
  enum class Kind { kTagged, kUntagged, kContinuation };
  Kind kind = Kind::kUntagged;
  std::string tag;                 // kTagged only
  std::optional<uint32_t> number;  // "* 23 EXISTS", "* 5 FETCH (...)"
  std::string name;                // upper-cased: OK NO BAD BYE PREAUTH FETCH EXISTS SEARCH ...
  // Status responses (OK/NO/BAD/BYE/PREAUTH) and continuations: the response code in brackets
  // (upper-cased atom, e.g. UIDVALIDITY, AUTHENTICATIONFAILED), its arguments as raw text, and
  // the human-readable rest.
  std::string code;
  std::string code_args;
  std::string text;
  // Data responses: the tokens after `name`.
  std::vector<ImapValue> data;

  bool IsStatus() const;
  // "NO [AUTHENTICATIONFAILED] Authentication failed." — the server's own words, for errors.
  std::string StatusText() const;
};

// Parses one complete response (what ImapResponseFramer delimits; the final CRLF is optional).
// Literal values point into `bytes`.
absl::StatusOr<ImapResponse> ParseImapResponse(absl::string_view bytes);

// Finds where a response ends in a growing buffer: a line, or a line ending in {n} followed by
// n literal bytes and more line, up to the final CRLF. Keeps its scan position between calls,
// so feeding a large response in chunks costs linear time. Bounds: a text line longer than
// max_line or a literal larger than max_literal is a protocol error (a hostile or broken server
// cannot make the client allocate without limit).
class ImapResponseFramer {
 public:
  explicit ImapResponseFramer(size_t max_line = 1 << 20, uint64_t max_literal = 1ull << 30)
      : max_line_(max_line), max_literal_(max_literal) {}
  // Bounds the whole response (every line and literal of it together), so a server cannot
  // chain literals, each within max_literal, without end. Checked as the response grows: a
  // literal that would cross the limit fails when announced, before its bytes are read. The
  // error is ResponseTooLarge(bytes, why) (mail_error.h).
  void SetResponseLimit(uint64_t bytes, std::string why) {
    max_response_ = bytes;
    response_why_ = std::move(why);
  }
  // `buf` holds the response from its first byte (and maybe bytes after it); it must be the
  // same bytes, possibly longer, on every call until Reset(). Returns the response length when
  // complete, 0 when more bytes are needed.
  absl::StatusOr<size_t> Next(absl::string_view buf);
  // Bytes still missing before the literal being read is complete (0 when not in a literal):
  // lets the reader size its buffer and reads.
  uint64_t literal_bytes_needed(size_t buffered) const {
    return literal_end_ > buffered ? literal_end_ - buffered : 0;
  }
  void Reset();

 private:
  size_t max_line_;
  uint64_t max_literal_;
  uint64_t max_response_ = UINT64_MAX;
  std::string response_why_;
  size_t scan_ = 0;         // next byte to look at for '\n'
  size_t line_start_ = 0;   // start of the current text segment
  size_t literal_end_ = 0;  // end of the literal being waited for, 0 when none
};

// The FETCH data the client asks for, from one "* n FETCH (...)" response.
struct ImapFetchData {
  uint32_t sequence = 0;
  std::optional<uint32_t> uid;
  std::optional<uint64_t> rfc822_size;
  std::optional<absl::string_view> body;  // BODY[] or BODY[]<0> (points into the response buffer)
  std::optional<std::vector<std::string>> flags;
  std::optional<std::string> internal_date;
};
absl::StatusOr<ImapFetchData> ParseFetch(const ImapResponse& response);

// Numbers of "* SEARCH 1 2 3" (an empty SEARCH gives none).
absl::StatusOr<std::vector<uint32_t>> ParseSearch(const ImapResponse& response);

// Capability atoms, upper-cased, from "* CAPABILITY ..." or an OK [CAPABILITY ...] code.
std::vector<std::string> ParseCapabilities(const ImapResponse& response);

// "1:3,7,9:10" for {1,2,3,7,9,10}; sorts and drops duplicates. Empty input gives "".
std::string FormatSequenceSet(std::vector<uint32_t> uids);

// `s` as an IMAP quoted string ("a\"b"), or nullopt when it cannot be one (CR, LF, NUL or
// 8-bit bytes) and must be sent as a literal.
std::optional<std::string> QuoteImapString(absl::string_view s);

// Mailbox names on the wire are modified UTF-7 (RFC 3501 5.1.3): "Entwürfe" -> "Entw&APw-rfe".
// INVALID_ARGUMENT for a name that is not valid UTF-8.
absl::StatusOr<std::string> EncodeMailboxName(absl::string_view utf8);

// "1-Feb-2026", the date form SEARCH SINCE takes.
std::string FormatImapDate(absl::CivilDay day);

}  // namespace postroom::mail

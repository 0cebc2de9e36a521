#pragma once

// Text from mail (subjects, names, addresses, reasons) reaches postroomctl's human output. Raw
// control characters there can rewrite the terminal (ESC sequences set titles, move the cursor,
// hide lines) and bidi overrides reorder what the reader sees. Everything for a person passes
// through here; JSON and YAML for programs do not (their own escaping keeps them exact).
#include <memory>
#include <ostream>
#include <streambuf>
#include <string>

#include "absl/strings/string_view.h"

namespace postroom::ctl {

// `text` with C0 controls but newline and tab, DEL, C1 controls (U+0080-U+009F), the bidi
// overrides and isolates (U+202A-U+202E, U+2066-U+2069) and bytes that are not UTF-8 shown as
// visible escapes: "\x1b", "\x7f", "\u009b", "\u202e", "\xff". Everything else is unchanged.
std::string TerminalSafe(absl::string_view text);

// A stream that writes TerminalSafe() of what it is given to `dest`. Holds at most one line
// (bounded) so that a multi-byte character is never split between two escapes.
class TerminalSafeStream : public std::ostream {
 public:
  explicit TerminalSafeStream(std::ostream& dest);
  ~TerminalSafeStream() override;

 private:
  class Buf;
  std::unique_ptr<Buf> buf_;
};

}  // namespace postroom::ctl

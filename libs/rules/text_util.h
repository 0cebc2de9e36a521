#pragma once

// Small string helpers shared by rules and templates: quoting for messages and traces, and
// "did you mean" suggestions for misspelt keys.
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace postroom::rules::internal {

// `"text"` with quotes, backslashes, control characters and invalid UTF-8 bytes escaped (the
// result is always valid UTF-8), cut after about `max_chars` bytes (on a character boundary)
// with "..." appended when longer.
std::string Quote(absl::string_view text, size_t max_chars = 80);

// `["a", "b"]`, each element quoted, at most `max_items` shown then `, ... (N more)`.
std::string QuoteList(const std::vector<std::string>& items, size_t max_items = 8,
                      size_t max_chars = 60);

// The candidate closest to `word` by edit distance when it is close enough to be a likely
// typo (distance at most a third of the length, at least 1, at most 3); "" otherwise.
std::string ClosestMatch(absl::string_view word, const std::vector<std::string>& candidates);

// `; did you mean "x"?` or "".
std::string DidYouMean(absl::string_view word, const std::vector<std::string>& candidates);

}  // namespace postroom::rules::internal

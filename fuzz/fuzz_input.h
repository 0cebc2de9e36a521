#pragma once

// Splits one fuzz input into the pieces a target needs. Pieces are separated by form feeds
// ("\f"): a byte no JSON, YAML header or template needs, so hand-written seeds stay readable
// text files (`when` JSON, \f, `then` JSON, \f, an email). Missing pieces are empty.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace postroom::fuzz {

inline std::vector<std::string> SplitInput(const uint8_t* data, size_t size, size_t pieces) {
  std::vector<std::string> out(pieces);
  size_t piece = 0;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\f' && piece + 1 < pieces) {
      ++piece;
      continue;
    }
    out[piece].push_back(static_cast<char>(data[i]));
  }
  return out;
}

}  // namespace postroom::fuzz

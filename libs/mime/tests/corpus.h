#pragma once

// The shared mail corpus the tests read (see its README.md): POSTROOM_CORPUS_DIR, else
// ${POSTROOM_SOURCE_DIR}/../shared/corpus (ctest sets POSTROOM_SOURCE_DIR); "" when neither.
#include <cstdlib>
#include <string>

namespace postroom::mime::test_corpus {

inline std::string CorpusDir() {
  if (const char* dir = std::getenv("POSTROOM_CORPUS_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  if (const char* src = std::getenv("POSTROOM_SOURCE_DIR"); src != nullptr && *src != '\0') {
    return std::string(src) + "/../shared/corpus";
  }
  return "";
}

}  // namespace postroom::mime::test_corpus

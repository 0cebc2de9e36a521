#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace postroom::secrets {

// Owns sensitive bytes (a key file's text, a decoded key) and overwrites them with
// OPENSSL_cleanse when destroyed. Moving hands over the heap buffer, so a move copies no secret
// bytes. Best effort: bytes the caller copies out, or a std::string's earlier buffers after it
// grew, are not tracked; reserve the final size before filling one. Not thread-safe.
class SecureString {
 public:
  SecureString() : s_(std::make_unique<std::string>()) {}
  explicit SecureString(std::string s) : s_(std::make_unique<std::string>(std::move(s))) {}
  SecureString(SecureString&&) noexcept = default;
  SecureString& operator=(SecureString&& other) noexcept;
  SecureString(const SecureString&) = delete;
  SecureString& operator=(const SecureString&) = delete;
  ~SecureString();

  const std::string& str() const { return *s_; }
  std::string& mutable_str() { return *s_; }
  std::string_view view() const { return *s_; }

 private:
  void Wipe();
  std::unique_ptr<std::string> s_;  // Null only after a move.
};

}  // namespace postroom::secrets

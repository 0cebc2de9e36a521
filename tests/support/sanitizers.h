#pragma once

// Whether this test binary runs under AddressSanitizer (the sanitizer build of scripts/test,
// docs/fuzzing.md). ASan keeps freed memory in a quarantine (256 MiB by default) and slows code
// several times, so a test that bounds RSS growth or CPU time measures ASan there, not us:
// such a test widens or skips that one bound under ASan and keeps every other check.
namespace postroom::testing {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kUnderAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kUnderAddressSanitizer = true;
#else
inline constexpr bool kUnderAddressSanitizer = false;
#endif
#else
inline constexpr bool kUnderAddressSanitizer = false;
#endif

}  // namespace postroom::testing

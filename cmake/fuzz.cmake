# POSTROOM_FUZZ=ON: the sanitizer build (build-fuzz/, see docs/fuzzing.md). Every library and
# test is compiled with clang's coverage hooks for libFuzzer (fuzzer-no-link) and with
# AddressSanitizer and UndefinedBehaviorSanitizer, which stop at the first report; only the
# fuzz targets link libFuzzer itself (fuzz/CMakeLists.txt). Off, nothing here changes the build.
option(POSTROOM_FUZZ "Sanitizer + libFuzzer build (clang only)" OFF)
if(POSTROOM_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "POSTROOM_FUZZ=ON needs clang: CC=clang CXX=clang++ (scripts/fuzz does it)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

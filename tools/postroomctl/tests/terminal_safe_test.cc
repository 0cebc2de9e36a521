#include "tools/postroomctl/terminal_safe.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/postroomctl/printers.h"

namespace postroom::ctl {
namespace {

TEST(TerminalSafeTest, ControlsBecomeVisibleEscapes) {
  EXPECT_EQ(TerminalSafe("a\x1b]0;owned\x07z"), "a\\x1b]0;owned\\x07z");
  EXPECT_EQ(TerminalSafe("over\rwrite\b\x7f"), "over\\x0dwrite\\x08\\x7f");
  EXPECT_EQ(TerminalSafe(std::string("nul\0x", 5)), "nul\\x00x");
  EXPECT_EQ(TerminalSafe("keeps\nnewlines\tand tabs"), "keeps\nnewlines\tand tabs");
}

TEST(TerminalSafeTest, C1AndBidiBecomeUnicodeEscapes) {
  EXPECT_EQ(TerminalSafe("\xc2\x9b" "31m"), "\\u009b31m");           // CSI
  EXPECT_EQ(TerminalSafe("invoice\xe2\x80\xae" "fdp.exe"), "invoice\\u202efdp.exe");
  EXPECT_EQ(TerminalSafe("\xe2\x80\xaa\xe2\x81\xa6\xe2\x81\xa9"), "\\u202a\\u2066\\u2069");
}

TEST(TerminalSafeTest, OtherUnicodeIsUnchanged) {
  const std::string text = "Gr\xc3\xbc\xc3\x9f" "e \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\xa7 "
                           "\xe2\x80\xa9\xe2\x81\xa5";  // U+2029 and U+2065 sit next to the bidi ranges.
  EXPECT_EQ(TerminalSafe(text), text);
}

TEST(TerminalSafeTest, BytesThatAreNotUtf8AreEscaped) {
  // A lone 0x9b is CSI to a Latin-1 terminal; overlong and truncated forms hide controls.
  EXPECT_EQ(TerminalSafe("\x9b" "2J"), "\\x9b2J");
  EXPECT_EQ(TerminalSafe("\xc0\x9b"), "\\xc0\\x9b");
  EXPECT_EQ(TerminalSafe("\xe2\x80"), "\\xe2\\x80");
  EXPECT_EQ(TerminalSafe("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // A surrogate.
  EXPECT_EQ(TerminalSafe("\xff"), "\\xff");
}

TEST(TerminalSafeTest, StreamEscapesAcrossWritesAndKeepsCharactersWhole) {
  std::ostringstream dest;
  {
    TerminalSafeStream s(dest);
    s << "sub\xe2\x80";  // A bidi override split across two writes.
    s << "\xae" "ject\x1b[2J\n";
    s << "\xc3";
    s << "\xbc" "ber" << std::flush;
    EXPECT_EQ(dest.str(), "sub\\u202eject\\x1b[2J\n\xc3\xbc" "ber");
    s << "tail\x07";
  }
  EXPECT_EQ(dest.str(), "sub\\u202eject\\x1b[2J\n\xc3\xbc" "bertail\\x07");
}

TEST(TerminalSafeTest, StreamHoldsAtMostAboutOneBoundedLine) {
  std::ostringstream dest;
  TerminalSafeStream s(dest);
  // 200 KiB without a newline, made of 2-byte characters and ESCs.
  std::string chunk;
  for (int i = 0; i < 1000; ++i) chunk += "\xc3\xa9\x1b";
  for (int i = 0; i < 70; ++i) s << chunk;
  EXPECT_GE(dest.str().size(), 100'000u);  // Written before the end of the line.
  s << std::flush;
  EXPECT_EQ(dest.str().find('\x1b'), std::string::npos);
  EXPECT_EQ(dest.str().size(), 70u * 1000u * (2 + 4));  // Every é whole, every ESC escaped.
}

TEST(TerminalSafeTest, TableColumnsLineUpWithTheEscapes) {
  EXPECT_EQ(FormatTable({"SUBJECT", "FROM"}, {{"a\x1b" "b", "x"}, {"plain", "y"}}),
            "SUBJECT   FROM\n"
            "a\\x1bb    x\n"
            "plain     y\n");
}

}  // namespace
}  // namespace postroom::ctl

#pragma once

// Emails shaped to hurt a MIME parser, each built up to a given size: shared by the hostile
// tests (mime_bounds_test) and the benchmark (bench/mime/bench_hostile), so both measure the
// same inputs. The first four are the shapes measured in issue 17.
#include <algorithm>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace postroom::mime::hostile {

// Appends `unit` until `out` would pass `size` bytes.
inline void Fill(std::string& out, const std::string& unit, size_t size) {
  while (out.size() + unit.size() <= size) out += unit;
}

inline std::string Head(const std::string& content_type) {
  return "From: a@example.com\nTo: b@example.com\nSubject: hostile\nContent-Type: " +
         content_type + "\n\n";
}

struct HostileMail {
  const char* name;
  std::function<std::string(size_t)> make;
};

inline std::vector<HostileMail> HostileMails() {
  return {
      {"empty_parts",  // 10 MB of "--b" lines, each followed by an empty line: 2 M empty parts.
       [](size_t size) {
         std::string m = Head("multipart/mixed; boundary=b");
         Fill(m, "--b\n\n", std::min<size_t>(size, 10'000'000));
         return m;
       }},
      {"header_lines_8b",  // 10 MB of 8-byte header lines.
       [](size_t size) {
         std::string m;
         Fill(m, "Xa: bcd\n", std::min<size_t>(size, 10'000'000) - 8);
         return m + "\nbody\n";
       }},
      {"folded_header_20mb",  // One folded Subject of 20 MB.
       [](size_t size) {
         std::string m = "From: a@example.com\nSubject: start";
         Fill(m, "\n folded", std::min<size_t>(size, 20'000'000));
         return m + "\n\nbody\n";
       }},
      {"nested_1000_then_lines",  // 1,000 nested boundaries, then 4 MB of boundary-like lines.
       [](size_t size) {
         std::string m;
         for (int i = 0; i < 1000; ++i) {
           m += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" +
                std::to_string(i) + "\n";
         }
         m += "Content-Type: text/plain\n\n";
         Fill(m, "--b1x\n", m.size() + std::min<size_t>(size, 4'000'000));
         return m;
       }},
      {"deep_rfc822",  // message/rfc822 inside message/rfc822 ... to the size.
       [](size_t size) {
         std::string m;
         Fill(m, "Subject: x\nContent-Type: message/rfc822\n\n", size - 64);
         return m + "Subject: bottom\n\nbody\n";
       }},
      {"encoded_words",  // Millions of encoded words, folded, in one Subject and in To.
       [](size_t size) {
         std::string m = "From: a@example.com\nSubject: =?utf-8?q?a?=";
         Fill(m, "\n =?utf-8?q?=C3=A4?= =?iso-8859-1?b?5A==?=", size / 2);
         m += "\nTo: =?utf-8?q?x?= <x@example.com>";
         Fill(m, ",\n =?utf-8?q?y?= <y@example.com>", size - 16);
         return m + "\n\nbody\n";
       }},
      {"encoded_word_fields",  // Encoded words spread over many short fields.
       [](size_t size) {
         std::string m = "From: a@example.com\n";
         Fill(m, "X-E: =?utf-8?q?a?= =?utf-8?b?w6Q=?= =?utf-8?q?b?= =?utf-8?q?c?=\n", size - 16);
         return m + "\nbody\n";
       }},
      {"base64_one_line",  // One base64 line of the whole size in an attachment.
       [](size_t size) {
         std::string m = Head("multipart/mixed; boundary=b") +
                         "--b\nContent-Type: text/plain\n\nhello\n--b\n"
                         "Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n";
         Fill(m, "QUJDRA==", size - 16);
         return m + "\n--b--\n";
       }},
      {"million_headers",  // 1 M tiny header fields.
       [](size_t size) {
         std::string m;
         for (int i = 0; i < 1'000'000 && m.size() + 16 < size; ++i) m += "a:\n";
         return m + "\nbody\n";
       }},
      {"million_addresses",  // A To with 1 M addresses on one line.
       [](size_t size) {
         std::string m = "From: a@example.com\nTo: x@example.com";
         for (int i = 0; i < 1'000'000 && m.size() + 32 < size; ++i) m += ", u@d.example";
         return m + "\n\nbody\n";
       }},
      {"deep_html",  // Nested, unclosed HTML of the whole size for html_text.
       [](size_t size) {
         std::string m = Head("text/html");
         Fill(m, "<div><b><i><table><tr><td>", size / 2);
         Fill(m, "<!-- <a href='x'>&amp;&#x1F600;&nbsp", size);
         return m;
       }},
      {"parts_with_headers",  // Many small parts, each with many header fields.
       [](size_t size) {
         std::string m = Head("multipart/mixed; boundary=b");
         std::string part = "--b\n";
         for (int i = 0; i < 50; ++i) part += "X-H" + std::to_string(i) + ": v\n";
         part += "Content-Type: text/plain\n\nx\n";
         Fill(m, part, size);
         return m;
       }},
      {"long_boundaries",  // 33 nested 70-char boundaries, then lines nearly matching them.
       [](size_t size) {
         std::string m;
         std::string b(68, 'q');
         for (int i = 0; i < 33; ++i) {
           std::string bi = b + std::to_string(10 + i);
           m += "Content-Type: multipart/mixed; boundary=\"" + bi + "\"\n\n--" + bi + "\n";
         }
         m += "Content-Type: text/plain\n\n";
         Fill(m, "--" + b + "zz\n", size);
         return m;
       }},
      {"bounce_recipients",  // A bounce naming thousands of recipients, for the classifier.
       [](size_t size) {
         std::string m =
             "From: MAILER-DAEMON@x.example\nSubject: Undelivered Mail Returned to Sender\n"
             "X-Failed-Recipients: u0@d.example";
         for (int i = 1; m.size() < 60'000; ++i) m += ",\n u" + std::to_string(i) + "@d.example";
         m += "\nContent-Type: multipart/report; report-type=delivery-status; boundary=r\n\n"
              "--r\nContent-Type: message/delivery-status\n\n";
         size_t end = std::min(size, m.size() + 400'000);
         for (int i = 0; m.size() + 64 < end; ++i) {
           m += "Final-Recipient: rfc822; f" + std::to_string(i) + "@d.example\nAction: failed\n\n";
         }
         return m + "--r--\n";
       }},
      {"wide_header_block",  // Hundreds of folded fields of 64 KiB each in one header block.
       [](size_t size) {
         std::string m = "From: a@example.com\n";
         std::string field = "X-Wide: a";
         Fill(field, "\n folded w\xc3\xb6rd", 65'000);
         field += "\n";
         Fill(m, field, size - 16);
         return m + "\nbody\n";
       }},
      {"bare_delimiters",  // 10 MB of "--b" lines alone (parts without headers or content).
       [](size_t size) {
         std::string m = Head("multipart/mixed; boundary=b");
         Fill(m, "--b\n", std::min<size_t>(size, 10'000'000));
         return m;
       }},
      {"long_text_line",  // One plain-text body line of the whole size.
       [](size_t size) {
         std::string m = Head("text/plain; charset=iso-8859-2");
         Fill(m, "\xe4\xf6\xfc abc ", size);
         return m;
       }},
  };
}

}  // namespace postroom::mime::hostile

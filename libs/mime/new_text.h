#pragma once

// What the sender wrote in this message: the body without the quoted history of the thread and
// without the signature, so a work item shows the new reply and not the whole conversation.
//
// Plain text is cut at the first line that starts the history: an attribution line ("On ...
// wrote:", Gmail's two-line form, and its German, French, Dutch, Spanish, Italian, Portuguese
// and Polish equivalents, Apple Mail's quoted form), an Outlook header block ("From:" then
// "Sent:"/"Date:" and "To:"/"Subject:" within a few lines, in those languages too),
// "-----Original Message-----" and its relatives, or the start of ">" quoting that runs to
// the end. Inline and bottom posting (the sender's text after or between quoted lines) keeps
// the unquoted lines. A "-- " signature and mobile sign-offs ("Sent from my iPhone" and its
// translations) at the end are dropped. HTML-only mail is cut at the quote containers mail
// clients write (Gmail's gmail_quote, Outlook's divRplyFwdMsg and its border-top header block,
// Apple Mail's and Thunderbird's blockquote type=cite, Yahoo's yahoo_quoted), turned into text
// and then cut as plain text; when nothing stands above the quote (bottom and inline posting),
// each blockquote becomes a ">" line and the whole is cut as plain text. Signatures HTML clients
// mark (Thunderbird's moz-signature, Outlook's div id="Signature") are dropped first.
//
// Heuristics, measured against ../shared/corpus/mailgun-talon (docs/mime.md). When nothing
// remains (a reply that is only a quote), the full text is returned: the desk must never see
// an empty body for a message that has one. Linear in the input; never fails.
#include <string>
#include <string_view>

#include "libs/mime/message.h"

namespace postroom::mime {

std::string NewTextFromPlain(std::string_view text);
std::string NewTextFromHtml(std::string_view html);
// From the text body, else from the HTML body.
std::string NewText(const ParsedMessage& message);

}  // namespace postroom::mime

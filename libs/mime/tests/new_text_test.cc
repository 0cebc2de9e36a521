// NewText: replies as real clients write them (attribution lines in eight languages, Outlook
// header blocks, signatures, mobile sign-offs, inline and bottom posting, HTML quote containers)
// and Talon's own expectations over ../shared/corpus/mailgun-talon.
#include "libs/mime/tests/corpus.h"
#include "libs/mime/new_text.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/mime/parser.h"

namespace postroom::mime {
namespace {

namespace fs = std::filesystem;

struct Case {
  const char* name;
  const char* text;
  const char* want;
};

class PlainReplies : public ::testing::TestWithParam<Case> {};

TEST_P(PlainReplies, KeepOnlyWhatTheSenderWrote) {
  EXPECT_EQ(NewTextFromPlain(GetParam().text), GetParam().want) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    Clients, PlainReplies,
    ::testing::Values(
        Case{"gmail_en_two_lines",
             "Thanks, that fixed it.\n\nOn Mon, Dec 7, 2026 at 10:02 AM Support Desk <\n"
             "support@example.com> wrote:\n\n> Please restart the printer.\n>\n",
             "Thanks, that fixed it."},
        Case{"gmail_de", "Danke!\n\nAm Mo., 7. Dez. 2026 um 10:02 Uhr schrieb Support <s@example.com>:\n> Bitte neu starten.\n",
             "Danke!"},
        Case{"gmail_fr", "Merci, c'est réglé.\n\nLe lun. 7 déc. 2026 à 10:02, Support <s@example.com> a écrit :\n> Redémarrez.\n",
             "Merci, c'est réglé."},
        Case{"gmail_nl", "Dank je.\n\nOp ma 7 dec. 2026 om 10:02 schreef Support <s@example.com>:\n> Herstart.\n",
             "Dank je."},
        Case{"gmail_es", "Gracias.\n\nEl lun, 7 dic 2026 a las 10:02, Support (<s@example.com>) escribió:\n> Reinicie.\n",
             "Gracias."},
        Case{"gmail_it", "Grazie.\n\nIl giorno lun 7 dic 2026 alle ore 10:02 Support <s@example.com> ha scritto:\n> Riavvia.\n",
             "Grazie."},
        Case{"gmail_pt", "Obrigado.\n\nEm seg., 7 de dez. de 2026 às 10:02, Support <s@example.com> escreveu:\n> Reinicie.\n",
             "Obrigado."},
        Case{"gmail_pl_date_first", "Dziękuję.\n\npon., 7 gru 2026 o 10:02 Support <s@example.com> napisał(a):\n> Uruchom ponownie.\n",
             "Dziękuję."},
        Case{"thunderbird_pl", "Dzięki.\n\nW dniu 7.12.2026 o 10:02, Support pisze:\n> Uruchom.\n",
             "Dzięki."},
        Case{"outlook_en_header_block",
             "It works now.\n\n________________________________\nFrom: Support <s@example.com>\n"
             "Sent: Monday, December 7, 2026 10:02 AM\nTo: Jane <jane@client.example>\n"
             "Subject: RE: Printer\n\nPlease restart it.\n",
             "It works now."},
        Case{"outlook_de_header_block",
             "Funktioniert.\n\nVon: Support <s@example.com>\nGesendet: Montag, 7. Dezember 2026 10:02\n"
             "An: Jane\nBetreff: AW: Drucker\n\nBitte neu starten.\n",
             "Funktioniert."},
        Case{"outlook_fr_bold_header_block",
             "C'est bon.\n\n*De :* Support <s@example.com>\n*Envoyé :* lundi 7 décembre 2026 10:02\n"
             "*À :* Jane\n*Objet :* RE: Imprimante\n\nRedémarrez.\n",
             "C'est bon."},
        Case{"original_message_banner",
             "See below.\n\n-----Original Message-----\nFrom: a@example.com\nhistory\n", "See below."},
        Case{"original_message_de",
             "Siehe unten.\n\n-----Ursprüngliche Nachricht-----\nVon: a@example.com\nalt\n",
             "Siehe unten."},
        Case{"apple_mail_quoted_attribution",
             "Sure, Tuesday works.\n\n> On 7 Dec 2026, at 10:02, Support <s@example.com> wrote:\n>\n"
             "> Can we call on Tuesday?\n",
             "Sure, Tuesday works."},
        Case{"apple_mail_attribution",
             "Sure.\n\nOn 7 Dec 2026, at 10:02, Support <s@example.com> wrote:\n\n> Tuesday?\n",
             "Sure."},
        Case{"signature_dash_dash_space",
             "Printer is on fire.\n\n-- \nJane Doe\nACME Corp, 3rd floor\n", "Printer is on fire."},
        Case{"signature_without_the_space", "Printer is on fire.\n--\nJane\n", "Printer is on fire."},
        Case{"sent_from_my_iphone", "Yes please.\n\nSent from my iPhone\n", "Yes please."},
        Case{"von_meinem_iphone", "Ja bitte.\n\nVon meinem iPhone gesendet\n", "Ja bitte."},
        Case{"envoye_de_mon_iphone", "Oui.\n\nEnvoyé de mon iPhone\n", "Oui."},
        Case{"get_outlook_for_android",
             "On my way.\n\nGet Outlook for Android<https://aka.ms/ghei36>\n\n"
             "From: Support <s@example.com>\nSent: Monday, December 7, 2026\nTo: Jane\nSubject: Visit\n",
             "On my way."},
        Case{"bottom_posting",
             "On Mon, Dec 7, 2026 at 10:02 AM Support <s@example.com> wrote:\n> Which model?\n\n"
             "An HP LaserJet 4.\n\n-- \nJane\n",
             "An HP LaserJet 4."},
        Case{"inline_answers",
             "> Which model?\nHP LaserJet 4.\n> Which floor?\nThird.\n", "HP LaserJet 4.\nThird."},
        Case{"quote_without_attribution", "Agreed.\n\n> we should ship on Monday\n> ok?\n",
             "Agreed."},
        Case{"wrote_in_a_sentence_is_text",
             "My manager wrote:\nthe invoice is wrong, please check it.\n",
             "My manager wrote:\nthe invoice is wrong, please check it."},
        Case{"only_a_quote_keeps_everything",
             "On Mon, Dec 7, 2026 at 10:02 AM Support <s@example.com> wrote:\n> hi\n",
             "On Mon, Dec 7, 2026 at 10:02 AM Support <s@example.com> wrote:\n> hi"},
        Case{"no_history", "Hello,\n\nthe printer is on fire.\n\nJane",
             "Hello,\n\nthe printer is on fire.\n\nJane"}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

TEST(HtmlReplies, OutlookCutsAtDivRplyFwdMsg) {
  EXPECT_EQ(NewTextFromHtml(
                "<html><body><div>Thanks, fixed.</div><div><br></div><hr style=\"display:inline-block\">"
                "<div id=\"divRplyFwdMsg\" dir=\"ltr\"><b>From:</b> Support<br><b>Sent:</b> Monday"
                "<br><b>To:</b> Jane<br><b>Subject:</b> Printer</div><div>Restart it.</div>"
                "</body></html>"),
            "Thanks, fixed.");
}

TEST(HtmlReplies, OutlookDesktopCutsAtTheBorderTopBlock) {
  EXPECT_EQ(NewTextFromHtml("<p class=MsoNormal>Done.</p><div><div style='border:none;"
                            "border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'>"
                            "<p><b>From:</b> Support</p></div></div><p>old</p>"),
            "Done.");
}

TEST(HtmlReplies, GmailCutsAtGmailQuote) {
  EXPECT_EQ(NewTextFromHtml("<div dir=\"ltr\">Works now</div><br><div class=\"gmail_quote\">"
                            "<div dir=\"ltr\" class=\"gmail_attr\">On Mon, Dec 7, 2026 Support "
                            "wrote:<br></div><blockquote class=\"gmail_quote\">Restart</blockquote>"
                            "</div>"),
            "Works now");
}

TEST(HtmlReplies, AppleMailCutsAtBlockquoteCiteAndItsAttribution) {
  EXPECT_EQ(NewTextFromHtml("<div>See you then.</div><div><br><blockquote type=\"cite\">"
                            "<div>On 7 Dec 2026, at 10:02, Support &lt;s@example.com&gt; wrote:</div>"
                            "<div>Tuesday?</div></blockquote></div>"),
            "See you then.");
  EXPECT_EQ(NewTextFromHtml("<div>See you then.</div><div>On 7 Dec 2026, at 10:02, Support "
                            "&lt;s@example.com&gt; wrote:</div><blockquote type=\"cite\">"
                            "<div>Tuesday?</div></blockquote>"),
            "See you then.");
}

TEST(HtmlReplies, ThunderbirdCutsAtMozCitePrefix) {
  EXPECT_EQ(NewTextFromHtml("<p>Received, thanks.</p><div class=\"moz-cite-prefix\">On 07/12/2026 "
                            "10:02, Support wrote:<br></div><blockquote type=\"cite\">x</blockquote>"),
            "Received, thanks.");
}

TEST(HtmlReplies, HostileNestingStaysLinear) {
  // Unclosed and unbalanced quote and signature elements, 4 MiB of each: every search starts
  // where the previous one ended, so this takes milliseconds, not the hours of a rescan.
  for (const char* unit : {"<blockquote type=cite>x", "</blockquote>x<blockquote>",
                           "<pre class=\"moz-signature\"><pre>", "<div id=\"Signature\"></div></div>",
                           "<blockquotex><prefix>"}) {
    std::string html;
    while (html.size() < (4u << 20)) html += unit;
    (void)NewTextFromHtml(html);
    (void)NewTextFromHtml("<div>" + html + "</div><p>after</p>");
  }
}

TEST(HtmlReplies, BottomPostingKeepsTheTextBelowTheQuote) {
  EXPECT_EQ(NewTextFromHtml("<div class=\"gmail_quote\"><div class=\"gmail_attr\">On Mon, Dec 7, "
                            "2026 Support wrote:<br></div><blockquote class=\"gmail_quote\">Which "
                            "model?<blockquote>nested</blockquote>still quoted</blockquote></div>"
                            "<div>LaserJet 4.</div><blockquote>Which floor?</blockquote>"
                            "<div>Third.</div>"),
            "LaserJet 4.\n\nThird.");
}

TEST(HtmlReplies, MarkedSignaturesAreDropped) {
  EXPECT_EQ(NewTextFromHtml("<p>Received.</p><pre class=\"moz-signature\" cols=\"72\">-- \n"
                            "Jane</pre>"),
            "Received.");
  EXPECT_EQ(NewTextFromHtml("<div>Done.</div><div id=\"Signature\"><div>Jane Doe</div><div>"
                            "ACME</div></div>"),
            "Done.");
  // Only the signature element goes: text after it stays.
  EXPECT_EQ(NewTextFromHtml("<div>A</div><div id=\"Signature\"><div>Jane</div></div><div>B</div>"),
            "A\n\nB");
}

TEST(NewText, PrefersTheTextBodyAndFallsBackToHtml) {
  ParsedMessage m;
  m.text_body = "Plain reply\n\n> old\n";
  m.html_body = "<div>Html reply</div>";
  EXPECT_EQ(NewText(m), "Plain reply");
  m.text_body = "  \n";
  EXPECT_EQ(NewText(m), "Html reply");
  m.html_body.clear();
  EXPECT_EQ(NewText(m), "");
}

TEST(NewText, HostileInputStaysLinear) {
  // 4 MiB of attribution-like lines and quote markers: bounded regex inputs, one pass each.
  std::string text;
  while (text.size() < (4u << 20)) text += "On Mon wrote: > x\n>\n" + std::string(500, 'a') + ":\n";
  std::string out = NewTextFromPlain(text);
  EXPECT_FALSE(out.empty());
}

// ---- Our own set: replies as real clients write them, measured -------------------------------
//
// Written from what each client puts out (attribution wording and wrapping, header block field
// names, sign-offs, HTML containers), in the eight languages of issue #20. Each is a case the
// cutter must get exactly; the test prints the agreement and every miss, and fails when the
// agreement falls below what was measured (docs/mime.md).

struct ClientCase {
  const char* name;
  bool html;
  const char* body;
  const char* want;
};

const ClientCase kClientSet[] = {
    // Gmail wraps a long attribution over two lines, in every language.
    {"gmail_de_two_lines", false,
     "Danke, erledigt.\n\nAm Mo., 7. Dez. 2026 um 10:02 Uhr schrieb Support Desk <\n"
     "support@example.com>:\n\n> Bitte neu starten.\n",
     "Danke, erledigt."},
    {"gmail_fr_two_lines", false,
     "Merci, c'est réglé.\n\nLe lun. 7 déc. 2026 à 10:02, Support Desk <support@example.com> a\n"
     "écrit :\n\n> Redémarrez.\n",
     "Merci, c'est réglé."},
    {"gmail_nl_two_lines", false,
     "Dank je, het werkt.\n\nOp ma 7 dec 2026 om 10:02 schreef Support Desk <\n"
     "support@example.com>:\n\n> Herstart de printer.\n",
     "Dank je, het werkt."},
    {"gmail_es_two_lines", false,
     "Gracias, ya funciona.\n\nEl lun, 7 dic 2026 a las 10:02, Support Desk (<\n"
     "support@example.com>) escribió:\n\n> Reinicie la impresora.\n",
     "Gracias, ya funciona."},
    {"gmail_it_two_lines", false,
     "Grazie, ora funziona.\n\nIl giorno lun 7 dic 2026 alle ore 10:02 Support Desk <\n"
     "support@example.com> ha scritto:\n\n> Riavvia la stampante.\n",
     "Grazie, ora funziona."},
    {"gmail_pt_two_lines", false,
     "Obrigado, já funciona.\n\nEm seg., 7 de dez. de 2026 às 10:02, Support Desk <\n"
     "support@example.com> escreveu:\n\n> Reinicie a impressora.\n",
     "Obrigado, já funciona."},
    {"gmail_pl_two_lines", false,
     "Dziękuję, działa.\n\npon., 7 gru 2026 o 10:02 Support Desk <support@example.com>\n"
     "napisał(a):\n\n> Proszę uruchomić ponownie.\n",
     "Dziękuję, działa."},
    {"gmail_en_one_line_with_comma", false,
     "Works now.\n\nOn Mon, Dec 7, 2026, 10:02 Support Desk <support@example.com> wrote:\n\n"
     "> Restart it.\n",
     "Works now."},
    // Outlook's header block, as each language's Outlook writes it.
    {"outlook_nl", false,
     "Het werkt.\n\nVan: Support <s@example.com>\nVerzonden: maandag 7 december 2026 10:02\n"
     "Aan: Jane <jane@client.example>\nOnderwerp: RE: Printer\n\nHerstart hem.\n",
     "Het werkt."},
    {"outlook_es", false,
     "Ya funciona.\n\nDe: Support <s@example.com>\nEnviado: lunes, 7 de diciembre de 2026 10:02\n"
     "Para: Jane <jane@client.example>\nAsunto: RE: Impresora\n\nReiníciela.\n",
     "Ya funciona."},
    {"outlook_it", false,
     "Ora funziona.\n\nDa: Support <s@example.com>\nInviato: lunedì 7 dicembre 2026 10:02\n"
     "A: Jane <jane@client.example>\nOggetto: R: Stampante\n\nRiavviala.\n",
     "Ora funziona."},
    {"outlook_pt", false,
     "Já funciona.\n\nDe: Support <s@example.com>\nEnviado: segunda-feira, 7 de dezembro de 2026 "
     "10:02\nPara: Jane <jane@client.example>\nAssunto: RE: Impressora\n\nReinicie-a.\n",
     "Já funciona."},
    {"outlook_pl", false,
     "Działa.\n\nOd: Support <s@example.com>\nWysłano: poniedziałek, 7 grudnia 2026 10:02\n"
     "Do: Jane <jane@client.example>\nTemat: RE: Drukarka\n\nUruchom ponownie.\n",
     "Działa."},
    {"outlook_fr_space_before_colon", false,
     "C'est bon.\n\nDe : Support <s@example.com>\nEnvoyé : lundi 7 décembre 2026 10:02\n"
     "À : Jane <jane@client.example>\nObjet : RE: Imprimante\n\nRedémarrez.\n",
     "C'est bon."},
    {"outlook_en_with_cc", false,
     "Done.\n\n________________________________\nFrom: Support <s@example.com>\n"
     "Sent: Monday, December 7, 2026 10:02 AM\nTo: Jane <jane@client.example>\n"
     "Cc: Bob <bob@client.example>\nSubject: RE: Printer\n\nRestart it.\n",
     "Done."},
    {"outlook_mac", false,
     "Thanks!\n\nFrom: Support <s@example.com>\nDate: Monday, 7 December 2026 at 10:02\n"
     "To: Jane <jane@client.example>\nSubject: Re: Printer\n\nRestart it.\n",
     "Thanks!"},
    // "-----Original Message-----" and forwarding banners in the languages above.
    {"original_message_fr", false,
     "Voir ci-dessous.\n\n-----Message d'origine-----\nDe : a@example.com\nancien\n",
     "Voir ci-dessous."},
    {"original_message_nl", false,
     "Zie hieronder.\n\n-----Oorspronkelijk bericht-----\nVan: a@example.com\noud\n",
     "Zie hieronder."},
    {"original_message_es", false,
     "Ver abajo.\n\n-----Mensaje original-----\nDe: a@example.com\nviejo\n", "Ver abajo."},
    {"original_message_it", false,
     "Vedi sotto.\n\n-----Messaggio originale-----\nDa: a@example.com\nvecchio\n", "Vedi sotto."},
    {"original_message_pt", false,
     "Veja abaixo.\n\n-----Mensagem original-----\nDe: a@example.com\nantigo\n", "Veja abaixo."},
    {"original_message_pl", false,
     "Poniżej.\n\n-----Wiadomość oryginalna-----\nOd: a@example.com\nstara\n", "Poniżej."},
    {"gmail_forward", false,
     "FYI, see the customer's mail.\n\n---------- Forwarded message ---------\n"
     "From: Jane <jane@client.example>\nDate: Mon, Dec 7, 2026 at 10:02 AM\nSubject: Printer\n"
     "To: <support@example.com>\n\nIt is broken.\n",
     "FYI, see the customer's mail."},
    {"apple_forward", false,
     "FYI.\n\nBegin forwarded message:\n\nFrom: Jane <jane@client.example>\nSubject: Printer\n"
     "Date: 7 December 2026 at 10:02:00 CET\nTo: support@example.com\n\nIt is broken.\n",
     "FYI."},
    // Apple Mail and iOS: the attribution is quoted, in the sender's language.
    {"apple_mail_de", false,
     "Dienstag passt.\n\n> Am 07.12.2026 um 10:02 schrieb Support <s@example.com>:\n>\n"
     "> Passt Dienstag?\n",
     "Dienstag passt."},
    {"apple_mail_fr", false,
     "Mardi me va.\n\n> Le 7 déc. 2026 à 10:02, Support <s@example.com> a écrit :\n>\n"
     "> Mardi ?\n",
     "Mardi me va."},
    {"iphone_en_sign_off_then_quote", false,
     "Yes.\n\nSent from my iPhone\n\n> On Dec 7, 2026, at 10:02, Support <s@example.com> wrote:\n"
     ">\n> Tuesday?\n",
     "Yes."},
    {"iphone_de_sign_off_then_quote", false,
     "Ja.\n\nVon meinem iPhone gesendet\n\n> Am 07.12.2026 um 10:02 schrieb Support "
     "<s@example.com>:\n>\n> Dienstag?\n",
     "Ja."},
    // Mobile sign-offs and their translations.
    {"verstuurd_vanaf_mijn_iphone", false, "Ja graag.\n\nVerstuurd vanaf mijn iPhone\n",
     "Ja graag."},
    {"enviado_desde_mi_iphone", false, "Sí, gracias.\n\nEnviado desde mi iPhone\n",
     "Sí, gracias."},
    {"inviato_da_iphone", false, "Sì, grazie.\n\nInviato da iPhone\n", "Sì, grazie."},
    {"enviado_do_meu_iphone", false, "Sim, obrigado.\n\nEnviado do meu iPhone\n",
     "Sim, obrigado."},
    {"wyslane_z_iphonea", false, "Tak, dziękuję.\n\nWysłane z iPhone'a\n", "Tak, dziękuję."},
    {"samsung", false, "On my way.\n\n\nSent from my Samsung Galaxy smartphone.\n",
     "On my way."},
    {"outlook_for_ios", false, "Fine.\n\nGet Outlook for iOS<https://aka.ms/o0ukef>\n", "Fine."},
    {"yahoo_android", false, "Ok.\n\nSent from Yahoo Mail on Android\n", "Ok."},
    {"mail_for_windows", false, "Ok.\n\nSent from Mail for Windows\n", "Ok."},
    // Signatures and where the sender writes.
    {"signature_above_attribution", false,
     "Fixed.\n\n-- \nJane Doe\nACME Corp\n\nOn Mon, Dec 7, 2026 at 10:02 AM Support "
     "<s@example.com> wrote:\n> Restart it.\n",
     "Fixed."},
    {"thunderbird_bottom_posting", false,
     "On 07/12/2026 10:02, Support wrote:\n> Which model is it?\n\nAn HP LaserJet 4.\n\n-- \n"
     "Jane\n",
     "An HP LaserJet 4."},
    {"inline_with_attribution", false,
     "On Mon, Dec 7, 2026 at 10:02 AM Support <s@example.com> wrote:\n> Which model?\n\n"
     "LaserJet 4.\n\n> Which floor?\n\nThird.\n",
     "LaserJet 4.\n\nThird."},
    {"yahoo_unquoted_history", false,
     "Thanks!\n\n    On Monday, December 7, 2026, 10:02:00 AM GMT+1, Support <s@example.com> "
     "wrote:\n\n Please restart it.\n",
     "Thanks!"},
    {"yahoo_classic_dashes", false,
     "Sounds great.\n\nJoe\n\n--- On Wed, 4/4/12, Support <s@example.com> wrote:\n\n"
     "From: Support <s@example.com>\nSubject: Booking\nTo: joe@example.com\n"
     "Date: Wednesday, April 4, 2012, 10:23 PM\n\nNew booking\n",
     "Sounds great.\n\nJoe"},
    // HTML-only replies.
    {"gmail_html_de", true,
     "<div dir=\"ltr\">Danke!</div><br><div class=\"gmail_quote\"><div dir=\"ltr\" "
     "class=\"gmail_attr\">Am Mo., 7. Dez. 2026 um 10:02 Uhr schrieb Support &lt;<a "
     "href=\"mailto:s@example.com\">s@example.com</a>&gt;:<br></div><blockquote "
     "class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex\">Bitte neu starten.</blockquote>"
     "</div>",
     "Danke!"},
    {"outlook_web_html_with_signature_div", true,
     "<div style=\"font-family: Calibri\">Done, thanks.</div><div id=\"Signature\"><div>-- "
     "<br>Jane Doe</div></div><hr style=\"display:inline-block;width:98%\" tabindex=\"-1\">"
     "<div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri\"><b>From:</b> Support "
     "&lt;s@example.com&gt;<br><b>Sent:</b> Monday, December 7, 2026 10:02<br><b>To:</b> Jane"
     "<br><b>Subject:</b> Printer</font><div>&nbsp;</div></div><div>Restart it.</div>",
     "Done, thanks."},
    {"outlook_desktop_html_de", true,
     "<div class=WordSection1><p class=MsoNormal>Erledigt.<o:p></o:p></p><p class=MsoNormal>"
     "<o:p>&nbsp;</o:p></p><div><div style='border:none;border-top:solid #E1E1E1 1.0pt;"
     "padding:3.0pt 0cm 0cm 0cm'><p class=MsoNormal><b>Von:</b> Support <br><b>Gesendet:</b> "
     "Montag, 7. Dezember 2026 10:02<br><b>An:</b> Jane<br><b>Betreff:</b> Drucker</p></div>"
     "</div><p class=MsoNormal>Bitte neu starten.</p></div>",
     "Erledigt."},
    {"ios_mail_html", true,
     "<html><body dir=\"auto\"><div dir=\"ltr\">Yes please</div><div dir=\"ltr\"><br></div>"
     "<div dir=\"ltr\">Sent from my iPhone</div><div dir=\"ltr\"><br><blockquote type=\"cite\">"
     "On 7 Dec 2026, at 10:02, Support &lt;s@example.com&gt; wrote:<br><br></blockquote></div>"
     "<blockquote type=\"cite\"><div dir=\"ltr\">Tuesday?</div></blockquote></body></html>",
     "Yes please"},
    {"thunderbird_html_bottom_posting", true,
     "<html><body><div class=\"moz-cite-prefix\">On 07/12/2026 10:02, Support wrote:<br></div>"
     "<blockquote type=\"cite\">Which model is it?</blockquote><p>An HP LaserJet 4.</p>"
     "<pre class=\"moz-signature\" cols=\"72\">-- \nJane</pre></body></html>",
     "An HP LaserJet 4."},
    {"yahoo_html", true,
     "<div>Thanks!</div><div><br></div><div class=\"yahoo_quoted\"><div>On Monday, December 7, "
     "2026, 10:02:00 AM GMT+1, Support &lt;s@example.com&gt; wrote:</div><div>Restart it."
     "</div></div>",
     "Thanks!"},
    {"outlook_web_html_signature_div_without_dashes", true,
     "<div>Done, thanks.</div><div><br></div><div id=\"Signature\"><div>Jane Doe<br>ACME Corp"
     "</div></div><div id=\"appendonsend\"></div><hr style=\"display:inline-block;width:98%\">"
     "<div id=\"divRplyFwdMsg\" dir=\"ltr\"><b>From:</b> Support<br><b>Sent:</b> Monday<br>"
     "<b>To:</b> Jane<br><b>Subject:</b> Printer</div><div>Restart it.</div>",
     "Done, thanks."},
    {"outlook_plain_nbsp_lines", false,
     "Done.\n\xc2\xa0\nJane\n\xc2\xa0\n\xc2\xa0\nFrom: Support <s@example.com>\n"
     "Sent: Monday, December 7, 2026 10:02 AM\nTo: Jane\nSubject: RE: Printer\n\nRestart it.\n",
     "Done.\n\nJane"},
    {"outlook_com_appendonsend", true,
     "<div>Ok, thanks.</div><div id=\"appendonsend\"></div><hr><div id=\"divRplyFwdMsg\">"
     "<b>From:</b> Support<br><b>Sent:</b> Monday<br><b>To:</b> Jane<br><b>Subject:</b> x</div>"
     "<div>old</div>",
     "Ok, thanks."},
};

// The agreement measured when the set was written (docs/mime.md); a change may raise it.
constexpr int kClientSetFloor = 51;

TEST(OwnSet, RealClientRepliesAgree) {
  int agree = 0;
  std::vector<std::string> misses;
  for (const ClientCase& c : kClientSet) {
    const std::string got = c.html ? NewTextFromHtml(c.body) : NewTextFromPlain(c.body);
    if (got == c.want) {
      ++agree;
    } else {
      misses.push_back(absl::StrCat(c.name, ": got \"", absl::CEscape(got), "\", want \"",
                                    absl::CEscape(c.want), "\""));
    }
  }
  const int total = static_cast<int>(std::size(kClientSet));
  std::cout << "own set of real clients' replies: " << agree << "/" << total << " agree\n";
  for (const std::string& m : misses) std::cout << "  miss " << m << "\n";
  EXPECT_GE(agree, kClientSetFloor) << "agreement fell below the measured " << kClientSetFloor
                                    << "/" << total;
}

// ---- Talon's expectations -----------------------------------------------------------------

using test_corpus::CorpusDir;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

// Talon's test_standard_replies: the reply is "Hello" unless <name>_reply_text says otherwise.
// Talon keeps signatures and mobile sign-offs, which new_text drops on purpose: those files are
// compared with their last block (the signature) removed too, and reported separately.
TEST(TalonCorpus, StandardRepliesAgree) {
  const fs::path dir = fs::path(CorpusDir()) / "mailgun-talon/tests/fixtures/standard_replies";
  ASSERT_TRUE(fs::exists(dir)) << dir << " not found: set POSTROOM_CORPUS_DIR";
  int total = 0, agree = 0, agree_but_signature = 0;
  std::vector<std::string> misses;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".eml") continue;
    ++total;
    absl::StatusOr<ParsedMessage> m = ParseMessage(ReadAll(entry.path()));
    ASSERT_TRUE(m.ok()) << entry.path() << ": " << m.status();
    const std::string got = NewText(*m);
    fs::path expected_file = dir / (entry.path().stem().string() + "_reply_text");
    std::string want = fs::exists(expected_file) ? Trim(ReadAll(expected_file)) : "Hello";
    if (Trim(got) == want) {
      ++agree;
      continue;
    }
    // Talon's expectation with its signature: compare the first paragraph only.
    const std::string first = want.substr(0, want.find("\n\n"));
    if (fs::exists(expected_file) && Trim(got) == Trim(first)) {
      ++agree_but_signature;
      continue;
    }
    misses.push_back(entry.path().filename().string() + ": got \"" + got + "\"");
  }
  std::cout << "talon standard replies: " << total << " emails, " << agree << " agree, "
            << agree_but_signature << " agree but for the signature Talon keeps, "
            << misses.size() << " differ\n";
  for (const std::string& m : misses) std::cout << "  miss " << m << "\n";
  EXPECT_GE(total, 12);
  EXPECT_TRUE(misses.empty()) << misses.size() << " replies differ from Talon's expectation";
}

// Talon's test_reply_quotations_share_block: a Yahoo reply whose "--- On ... wrote:" and the
// forwarded header block share one quote. Talon expects a non-empty reply without "From".
TEST(TalonCorpus, ReplyQuotationsShareBlockAgrees) {
  const fs::path file =
      fs::path(CorpusDir()) / "mailgun-talon/tests/fixtures/reply-quotations-share-block.eml";
  ASSERT_TRUE(fs::exists(file)) << file << " not found: set POSTROOM_CORPUS_DIR";
  absl::StatusOr<ParsedMessage> m = ParseMessage(ReadAll(file));
  ASSERT_TRUE(m.ok()) << m.status();
  const std::string got = NewText(*m);
  const bool agree = !got.empty() && !absl::StrContains(got, "From");
  std::cout << "talon reply-quotations-share-block: " << (agree ? "agrees" : "differs") << "\n";
  if (!agree) std::cout << "  miss reply-quotations-share-block: got \"" << got << "\"\n";
  EXPECT_TRUE(agree) << got;
  // What the sender wrote stays, up to the signature-like name line.
  EXPECT_TRUE(absl::StartsWith(got, "Hi Katharine.")) << got;
  EXPECT_TRUE(absl::EndsWith(got, "Joe XXX")) << got;
  // The no-break-space line between them is blank, not text.
  EXPECT_FALSE(absl::StrContains(got, "\xc2\xa0\n")) << got;
}

}  // namespace
}  // namespace postroom::mime

#include "libs/rules/condition.h"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/connector/names.h"
#include "libs/rules/text_util.h"
#include "re2/re2.h"

namespace postroom::rules::internal {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

// Nesting of all/any/not beyond this is refused: it is never needed and bounds the recursion
// on hostile input.
constexpr int kMaxDepth = 16;
// Regular expressions longer than this are refused; RE2 bounds the rest (memory, time).
constexpr size_t kMaxPatternBytes = 4096;

// ---------------------------------------------------------------------------------------------
// Text matching: contains / equals (case-insensitive, Unicode-aware through RE2's (?i)) and
// matches (RE2, case-sensitive unless the pattern says (?i)).

enum class TextOp { kContains, kEquals, kMatches };

class TextMatcher {
 public:
  TextMatcher(TextOp op, std::vector<std::string> values) : op_(op), values_(std::move(values)) {}

  // Compiles; on failure appends errors (per element for a list) and returns false.
  bool Compile(const std::string& path, bool was_list, std::vector<FieldError>* errors) {
    RE2::Options options;
    options.set_log_errors(false);
    if (op_ == TextOp::kMatches) {
      bool ok = true;
      for (size_t i = 0; i < values_.size(); ++i) {
        std::string element_path = was_list ? absl::StrCat(path, "[", i, "]") : path;
        if (values_[i].size() > kMaxPatternBytes) {
          errors->push_back({element_path, absl::StrCat("regular expression is longer than ",
                                                        kMaxPatternBytes, " bytes")});
          ok = false;
          continue;
        }
        auto re = std::make_unique<RE2>(values_[i], options);
        if (!re->ok()) {
          errors->push_back({element_path, absl::StrCat("invalid RE2 regular expression ",
                                                        Quote(values_[i]), ": ", re->error())});
          ok = false;
          continue;
        }
        regexes_.push_back(std::move(re));
      }
      return ok;
    }
    // One alternation with a group per value: the fast path runs only RE2's DFA; the explain
    // path reads which group matched.
    std::string pattern = "(?i)";
    if (op_ == TextOp::kEquals) pattern += "\\s*(?:";
    for (size_t i = 0; i < values_.size(); ++i) {
      if (i > 0) pattern += "|";
      absl::StrAppend(&pattern, "(", RE2::QuoteMeta(values_[i]), ")");
    }
    if (op_ == TextOp::kEquals) pattern += ")\\s*";
    combined_ = std::make_unique<RE2>(pattern, options);
    if (!combined_->ok()) {
      // Only invalid UTF-8 or an enormous list gets here.
      errors->push_back({path, absl::StrCat("cannot compile: ", combined_->error())});
      return false;
    }
    return true;
  }

  // Whether `text` matches; when `matched` is non-null and it does, the index of the value.
  bool Match(absl::string_view text, size_t* matched) const {
    re2::StringPiece input(text.data(), text.size());
    if (op_ == TextOp::kMatches) {
      for (size_t i = 0; i < regexes_.size(); ++i) {
        if (RE2::PartialMatch(input, *regexes_[i])) {
          if (matched != nullptr) *matched = i;
          return true;
        }
      }
      return false;
    }
    if (matched == nullptr) {
      return op_ == TextOp::kEquals ? RE2::FullMatch(input, *combined_)
                                    : RE2::PartialMatch(input, *combined_);
    }
    std::vector<re2::StringPiece> groups(values_.size());
    std::vector<RE2::Arg> args(values_.size());
    std::vector<const RE2::Arg*> arg_ptrs(values_.size());
    for (size_t i = 0; i < values_.size(); ++i) {
      args[i] = RE2::Arg(&groups[i]);
      arg_ptrs[i] = &args[i];
    }
    int n = static_cast<int>(values_.size());
    bool ok = op_ == TextOp::kEquals ? RE2::FullMatchN(input, *combined_, arg_ptrs.data(), n)
                                     : RE2::PartialMatchN(input, *combined_, arg_ptrs.data(), n);
    if (!ok) return false;
    *matched = 0;
    for (size_t i = 0; i < groups.size(); ++i) {
      if (groups[i].data() != nullptr) {
        *matched = i;
        break;
      }
    }
    return true;
  }

  // "contains \"x\"" for a match of value i.
  std::string Held(size_t i) const { return absl::StrCat(Verb(), " ", Quote(values_[i])); }

  // "contains \"x\"" / "contains one of [...]".
  std::string Wanted() const {
    if (values_.size() == 1) return absl::StrCat(Verb(), " ", Quote(values_[0]));
    return absl::StrCat(Verb(), " one of ", QuoteList(values_));
  }

  // "contains none of [...]" / "does not contain \"x\"".
  std::string Failed() const {
    if (values_.size() == 1) return absl::StrCat(NegatedVerb(), " ", Quote(values_[0]));
    return absl::StrCat(Verb(), " none of ", QuoteList(values_));
  }

 private:
  const char* Verb() const {
    switch (op_) {
      case TextOp::kContains:
        return "contains";
      case TextOp::kEquals:
        return "equals";
      case TextOp::kMatches:
        return "matches";
    }
    return "";
  }
  const char* NegatedVerb() const {
    switch (op_) {
      case TextOp::kContains:
        return "does not contain";
      case TextOp::kEquals:
        return "does not equal";
      case TextOp::kMatches:
        return "does not match";
    }
    return "";
  }

  TextOp op_;
  std::vector<std::string> values_;
  std::unique_ptr<RE2> combined_;
  std::vector<std::unique_ptr<RE2>> regexes_;
};

// ---------------------------------------------------------------------------------------------
// Address helpers. Comparison is ASCII case-insensitive: domains are case-insensitive and
// practically every mail system treats local parts so too.

using connector::DomainOf;

// The part of the local part after the first '+', or "" when there is none.
absl::string_view TagOf(absl::string_view address) {
  size_t at = address.rfind('@');
  absl::string_view local = at == absl::string_view::npos ? address : address.substr(0, at);
  size_t plus = local.find('+');
  return plus == absl::string_view::npos ? absl::string_view() : local.substr(plus + 1);
}

// `pattern` is "example.com" (the domain and its subdomains) or "*.example.com" (subdomains
// only), lower case.
bool DomainMatches(absl::string_view domain, absl::string_view pattern) {
  if (domain.empty()) return false;
  bool subdomains_only = absl::StartsWith(pattern, "*.");
  if (subdomains_only) pattern.remove_prefix(2);
  if (domain.size() == pattern.size())
    return !subdomains_only && absl::EqualsIgnoreCase(domain, pattern);
  return domain.size() > pattern.size() && domain[domain.size() - pattern.size() - 1] == '.' &&
         absl::EndsWithIgnoreCase(domain, pattern);
}

bool EqualsAnyIgnoreCase(absl::string_view text, const std::vector<std::string>& values,
                         size_t* matched) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (absl::EqualsIgnoreCase(text, values[i])) {
      if (matched != nullptr) *matched = i;
      return true;
    }
  }
  return false;
}

bool DomainMatchesAny(absl::string_view domain, const std::vector<std::string>& patterns,
                      size_t* matched) {
  for (size_t i = 0; i < patterns.size(); ++i) {
    if (DomainMatches(domain, patterns[i])) {
      if (matched != nullptr) *matched = i;
      return true;
    }
  }
  return false;
}

// "\"x\"" for one value, "one of [...]" for several.
std::string OneOrList(const std::vector<std::string>& values) {
  if (values.size() == 1) return Quote(values[0]);
  return absl::StrCat("one of ", QuoteList(values));
}

// ---------------------------------------------------------------------------------------------
// Leaves.

enum class TextField { kSubject, kBody, kFromAddress, kFromName };

class TextLeaf : public Condition {
 public:
  TextLeaf(int cost, std::string path, TextField field, std::unique_ptr<TextMatcher> matcher)
      : Condition(cost), path_(std::move(path)), field_(field), matcher_(std::move(matcher)) {}

  bool Eval(const MessageFacts& facts, Why* why) const override {
    absl::string_view text = Text(facts);
    if (why == nullptr) return matcher_->Match(text, nullptr);
    size_t matched = 0;
    bool ok = matcher_->Match(text, &matched);
    why->path = path_;
    if (ok) {
      why->reason = absl::StrCat(Label(text, true), " ", matcher_->Held(matched));
    } else {
      why->reason = absl::StrCat(Label(text, false), " ", matcher_->Failed());
    }
    return ok;
  }

 private:
  absl::string_view Text(const MessageFacts& facts) const {
    switch (field_) {
      case TextField::kSubject:
        return facts.subject;
      case TextField::kBody:
        return facts.body_text;
      case TextField::kFromAddress:
        return facts.from_address;
      case TextField::kFromName:
        return facts.from_name;
    }
    return {};
  }
  // The body is never quoted: traces are stored and shown, and a body may hold anything.
  std::string Label(absl::string_view text, bool held) const {
    switch (field_) {
      case TextField::kSubject:
        return absl::StrCat("subject ", Quote(text));
      case TextField::kBody:
        return held ? "body" : absl::StrCat("body (", text.size(), " bytes)");
      case TextField::kFromAddress:
        return absl::StrCat("sender address ", Quote(text));
      case TextField::kFromName:
        return absl::StrCat("sender name ", Quote(text));
    }
    return "";
  }

  std::string path_;
  TextField field_;
  std::unique_ptr<TextMatcher> matcher_;
};

// One address of the message equals one of the values: the sender (`from_address`) or the
// connector's own address the mail was sent to (`to`, found by the router, MessageFacts).
class AddressLeaf : public Condition {
 public:
  // Traces read "<label> \"x\" <is> \"y\"" and "<label> \"x\" <is> not ...".
  AddressLeaf(std::string path, const char* label, const char* is,
              std::string MessageFacts::*field, std::vector<std::string> addresses)
      : Condition(1),
        path_(std::move(path)),
        label_(label),
        is_(is),
        field_(field),
        addresses_(std::move(addresses)) {}

  bool Eval(const MessageFacts& facts, Why* why) const override {
    const std::string& address = facts.*field_;
    size_t matched = 0;
    bool ok = EqualsAnyIgnoreCase(address, addresses_, &matched);
    if (why != nullptr) {
      why->path = path_;
      why->reason = ok ? absl::StrCat(label_, " ", Quote(address), " ", is_, " ",
                                      Quote(addresses_[matched]))
                       : absl::StrCat(label_, " ", Quote(address), " ", is_, " not ",
                                      OneOrList(addresses_));
    }
    return ok;
  }

 private:
  std::string path_;
  const char* label_;
  const char* is_;
  std::string MessageFacts::*field_;
  std::vector<std::string> addresses_;
};

class FromDomainLeaf : public Condition {
 public:
  FromDomainLeaf(std::string path, std::vector<std::string> domains)
      : Condition(1), path_(std::move(path)), domains_(std::move(domains)) {}

  bool Eval(const MessageFacts& facts, Why* why) const override {
    absl::string_view domain = DomainOf(facts.from_address);
    size_t matched = 0;
    bool ok = DomainMatchesAny(domain, domains_, &matched);
    if (why != nullptr) {
      why->path = path_;
      why->reason = ok ? absl::StrCat("sender domain ", Quote(domain), " is within ",
                                      Quote(domains_[matched]))
                       : absl::StrCat("sender domain ", Quote(domain), " is not within ",
                                      OneOrList(domains_));
    }
    return ok;
  }

 private:
  std::string path_;
  std::vector<std::string> domains_;
};

enum RecipientHeader : unsigned {
  kTo = 1,
  kCc = 2,
  kDeliveredTo = 4,
  kXOriginalTo = 8,
  kAllRecipientHeaders = 15,
};

struct RecipientHeaderInfo {
  RecipientHeader bit;
  const char* key;     // As written in `in:`.
  const char* header;  // As shown in traces.
  std::vector<std::string> MessageFacts::*list;
};

constexpr std::array<RecipientHeaderInfo, 4> kRecipientHeaders = {{
    {kTo, "to", "To", &MessageFacts::to},
    {kCc, "cc", "Cc", &MessageFacts::cc},
    {kDeliveredTo, "delivered_to", "Delivered-To", &MessageFacts::delivered_to},
    {kXOriginalTo, "x_original_to", "X-Original-To", &MessageFacts::x_original_to},
}};

class RecipientLeaf : public Condition {
 public:
  RecipientLeaf(std::string path, unsigned headers, std::vector<std::string> addresses,
                std::vector<std::string> domains, std::vector<std::string> tags)
      : Condition(2),
        path_(std::move(path)),
        headers_(headers),
        addresses_(std::move(addresses)),
        domains_(std::move(domains)),
        tags_(std::move(tags)) {}

  bool Eval(const MessageFacts& facts, Why* why) const override {
    for (const RecipientHeaderInfo& info : kRecipientHeaders) {
      if ((headers_ & info.bit) == 0) continue;
      for (const std::string& address : facts.*info.list) {
        if (!Fits(address)) continue;
        if (why != nullptr) {
          why->path = path_;
          why->reason =
              absl::StrCat("recipient ", Quote(address), " (", info.header, ") has ", Criteria());
        }
        return true;
      }
    }
    if (why != nullptr) {
      std::vector<std::string> seen;
      std::vector<std::string> names;
      for (const RecipientHeaderInfo& info : kRecipientHeaders) {
        if ((headers_ & info.bit) == 0) continue;
        names.push_back(info.header);
        const auto& list = facts.*info.list;
        seen.insert(seen.end(), list.begin(), list.end());
      }
      why->path = path_;
      why->reason = seen.empty()
                        ? absl::StrCat("message has no ", absl::StrJoin(names, "/"), " recipients")
                        : absl::StrCat("no ", absl::StrJoin(names, "/"), " recipient among ",
                                       QuoteList(seen, 5), " has ", Criteria());
    }
    return false;
  }

 private:
  bool Fits(absl::string_view address) const {
    if (!addresses_.empty() && !EqualsAnyIgnoreCase(address, addresses_, nullptr)) return false;
    if (!domains_.empty() && !DomainMatchesAny(DomainOf(address), domains_, nullptr)) {
      return false;
    }
    if (!tags_.empty()) {
      absl::string_view tag = TagOf(address);
      if (tag.empty() || !EqualsAnyIgnoreCase(tag, tags_, nullptr)) return false;
    }
    return true;
  }

  std::string Criteria() const {
    std::vector<std::string> parts;
    if (!addresses_.empty()) parts.push_back(absl::StrCat("address ", OneOrList(addresses_)));
    if (!domains_.empty()) parts.push_back(absl::StrCat("domain within ", OneOrList(domains_)));
    if (!tags_.empty()) parts.push_back(absl::StrCat("tag ", OneOrList(tags_)));
    return absl::StrJoin(parts, " and ");
  }

  std::string path_;
  unsigned headers_;
  std::vector<std::string> addresses_;
  std::vector<std::string> domains_;
  std::vector<std::string> tags_;
};

class HeaderLeaf : public Condition {
 public:
  // A null matcher means a presence test.
  HeaderLeaf(std::string path, std::string name, std::unique_ptr<TextMatcher> matcher, bool present)
      : Condition(4),
        path_(std::move(path)),
        name_(std::move(name)),
        matcher_(std::move(matcher)),
        present_(present) {}

  bool Eval(const MessageFacts& facts, Why* why) const override {
    size_t count = 0;
    const std::string* first = nullptr;
    for (const auto& [name, value] : facts.headers) {
      if (!absl::EqualsIgnoreCase(name, name_)) continue;
      ++count;
      if (first == nullptr) first = &value;
      if (matcher_ == nullptr) break;
      size_t matched = 0;
      if (matcher_->Match(value, why != nullptr ? &matched : nullptr)) {
        if (why != nullptr) {
          why->path = path_;
          why->reason = absl::StrCat("header ", Quote(name_), " (", Quote(value), ") ",
                                     matcher_->Held(matched));
        }
        return true;
      }
    }
    if (matcher_ == nullptr) {
      bool ok = (count > 0) == present_;
      if (why != nullptr) {
        why->path = path_;
        why->reason =
            absl::StrCat("header ", Quote(name_), count > 0 ? " is present" : " is absent");
      }
      return ok;
    }
    if (why != nullptr) {
      why->path = path_;
      if (count == 0) {
        why->reason = absl::StrCat("header ", Quote(name_), " is absent");
      } else if (count == 1) {
        why->reason =
            absl::StrCat("header ", Quote(name_), " (", Quote(*first), ") ", matcher_->Failed());
      } else {
        why->reason =
            absl::StrCat("none of the ", count, " ", Quote(name_), " headers ", matcher_->Wanted());
      }
    }
    return false;
  }

 private:
  std::string path_;
  std::string name_;
  std::unique_ptr<TextMatcher> matcher_;
  bool present_;
};

size_t CountAttachments(const MessageFacts& facts) {
  size_t n = 0;
  for (const Attachment& a : facts.attachments) n += a.is_inline ? 0 : 1;
  return n;
}

std::vector<std::string> AttachmentNames(const MessageFacts& facts) {
  std::vector<std::string> names;
  for (const Attachment& a : facts.attachments) {
    if (!a.is_inline) names.push_back(a.filename);
  }
  return names;
}

class HasAttachmentLeaf : public Condition {
 public:
  HasAttachmentLeaf(std::string path, bool want)
      : Condition(0), path_(std::move(path)), want_(want) {}

  bool Eval(const MessageFacts& facts, Why* why) const override {
    size_t n = CountAttachments(facts);
    bool ok = (n > 0) == want_;
    if (why != nullptr) {
      why->path = path_;
      why->reason = n == 0
                        ? "message has no attachments"
                        : absl::StrCat("message has ", n, n == 1 ? " attachment" : " attachments");
    }
    return ok;
  }

 private:
  std::string path_;
  bool want_;
};

class AttachmentNameLeaf : public Condition {
 public:
  AttachmentNameLeaf(std::string path, std::unique_ptr<TextMatcher> matcher)
      : Condition(3), path_(std::move(path)), matcher_(std::move(matcher)) {}

  bool Eval(const MessageFacts& facts, Why* why) const override {
    for (const Attachment& a : facts.attachments) {
      if (a.is_inline) continue;
      size_t matched = 0;
      if (matcher_->Match(a.filename, why != nullptr ? &matched : nullptr)) {
        if (why != nullptr) {
          why->path = path_;
          why->reason =
              absl::StrCat("attachment name ", Quote(a.filename), " ", matcher_->Held(matched));
        }
        return true;
      }
    }
    if (why != nullptr) {
      why->path = path_;
      std::vector<std::string> names = AttachmentNames(facts);
      why->reason = names.empty() ? "message has no attachments"
                                  : absl::StrCat("no attachment name among ", QuoteList(names, 5),
                                                 " ", matcher_->Failed());
    }
    return false;
  }

 private:
  std::string path_;
  std::unique_ptr<TextMatcher> matcher_;
};

// `pattern` is "type/subtype" or "type/*", lower case.
bool ContentTypeMatches(absl::string_view type, absl::string_view pattern) {
  if (absl::EndsWith(pattern, "/*")) {
    pattern.remove_suffix(1);  // Keep the slash: "image/" must not match "imagex/png".
    return absl::StartsWithIgnoreCase(type, pattern);
  }
  return absl::EqualsIgnoreCase(type, pattern);
}

class AttachmentTypeLeaf : public Condition {
 public:
  AttachmentTypeLeaf(std::string path, std::vector<std::string> types)
      : Condition(2), path_(std::move(path)), types_(std::move(types)) {}

  bool Eval(const MessageFacts& facts, Why* why) const override {
    for (const Attachment& a : facts.attachments) {
      if (a.is_inline) continue;
      for (size_t i = 0; i < types_.size(); ++i) {
        if (!ContentTypeMatches(a.content_type, types_[i])) continue;
        if (why != nullptr) {
          why->path = path_;
          why->reason = absl::StrCat("attachment ", Quote(a.filename), " has type ",
                                     Quote(a.content_type), ", within ", Quote(types_[i]));
        }
        return true;
      }
    }
    if (why != nullptr) {
      why->path = path_;
      std::vector<std::string> seen;
      for (const Attachment& a : facts.attachments) {
        if (!a.is_inline) seen.push_back(a.content_type);
      }
      why->reason = seen.empty() ? "message has no attachments"
                                 : absl::StrCat("no attachment type among ", QuoteList(seen, 5),
                                                " is within ", OneOrList(types_));
    }
    return false;
  }

 private:
  std::string path_;
  std::vector<std::string> types_;
};

class ImportanceLeaf : public Condition {
 public:
  ImportanceLeaf(std::string path, std::vector<Importance> wanted)
      : Condition(0), path_(std::move(path)), wanted_(std::move(wanted)) {}

  bool Eval(const MessageFacts& facts, Why* why) const override {
    bool ok = std::find(wanted_.begin(), wanted_.end(), facts.importance) != wanted_.end();
    if (why != nullptr) {
      why->path = path_;
      std::vector<std::string> names;
      for (Importance i : wanted_) names.push_back(ImportanceName(i));
      why->reason = absl::StrCat("importance is ", ImportanceName(facts.importance),
                                 ok ? "" : absl::StrCat(", not ", OneOrList(names)));
    }
    return ok;
  }

 private:
  std::string path_;
  std::vector<Importance> wanted_;
};

// folder / queue_hint: equal ignoring case to any value.
class NameLeaf : public Condition {
 public:
  NameLeaf(std::string path, const char* label, std::string MessageFacts::*field,
           std::vector<std::string> values)
      : Condition(1),
        path_(std::move(path)),
        label_(label),
        field_(field),
        values_(std::move(values)) {}

  bool Eval(const MessageFacts& facts, Why* why) const override {
    const std::string& text = facts.*field_;
    size_t matched = 0;
    bool ok = EqualsAnyIgnoreCase(text, values_, &matched);
    if (why != nullptr) {
      why->path = path_;
      why->reason = ok ? absl::StrCat(label_, " ", Quote(text), " is ", Quote(values_[matched]))
                       : absl::StrCat(label_, " ", Quote(text), " is not ", OneOrList(values_));
    }
    return ok;
  }

 private:
  std::string path_;
  const char* label_;
  std::string MessageFacts::*field_;
  std::vector<std::string> values_;
};

// ---------------------------------------------------------------------------------------------
// Combinators.

int MaxCost(const std::vector<std::unique_ptr<Condition>>& children) {
  int cost = 0;
  for (const auto& c : children) cost = std::max(cost, c->cost());
  return cost;
}

class AllNode : public Condition {
 public:
  AllNode(std::string path, std::vector<std::unique_ptr<Condition>> children)
      : Condition(MaxCost(children)), path_(std::move(path)), children_(std::move(children)) {}

  bool Eval(const MessageFacts& facts, Why* why) const override {
    if (why == nullptr) {
      for (const auto& child : children_) {
        if (!child->Eval(facts, nullptr)) return false;
      }
      return true;
    }
    std::vector<std::string> held;
    for (const auto& child : children_) {
      Why child_why;
      if (!child->Eval(facts, &child_why)) {
        *why = std::move(child_why);
        return false;
      }
      held.push_back(absl::StrCat(child_why.path, ": ", child_why.reason));
    }
    why->path = path_;
    why->reason =
        absl::StrCat("all ", children_.size(), " conditions held: ", absl::StrJoin(held, "; "));
    return true;
  }

 private:
  std::string path_;
  std::vector<std::unique_ptr<Condition>> children_;
};

class AnyNode : public Condition {
 public:
  AnyNode(std::string path, std::vector<std::unique_ptr<Condition>> children)
      : Condition(MaxCost(children)), path_(std::move(path)), children_(std::move(children)) {}

  bool Eval(const MessageFacts& facts, Why* why) const override {
    if (why == nullptr) {
      for (const auto& child : children_) {
        if (child->Eval(facts, nullptr)) return true;
      }
      return false;
    }
    std::vector<std::string> failed;
    for (const auto& child : children_) {
      Why child_why;
      if (child->Eval(facts, &child_why)) {
        *why = std::move(child_why);
        return true;
      }
      failed.push_back(absl::StrCat(child_why.path, ": ", child_why.reason));
    }
    why->path = path_;
    why->reason = absl::StrCat("none of ", children_.size(),
                               " alternatives held: ", absl::StrJoin(failed, "; "));
    return false;
  }

 private:
  std::string path_;
  std::vector<std::unique_ptr<Condition>> children_;
};

class NotNode : public Condition {
 public:
  NotNode(std::string path, std::unique_ptr<Condition> child)
      : Condition(child->cost()), path_(std::move(path)), child_(std::move(child)) {}

  bool Eval(const MessageFacts& facts, Why* why) const override {
    if (why == nullptr) return !child_->Eval(facts, nullptr);
    Why child_why;
    bool held = child_->Eval(facts, &child_why);
    why->path = path_;
    why->reason = absl::StrCat(held ? "negated condition held: " : "negated condition failed: ",
                               child_why.path, ": ", child_why.reason);
    return !held;
  }

 private:
  std::string path_;
  std::unique_ptr<Condition> child_;
};

// ---------------------------------------------------------------------------------------------
// Compiler.

// Keys in documentation order with their evaluation cost; a map evaluates its keys cheapest
// first (ties by name), so a trace's "first failing condition" is stable.
struct KeyInfo {
  const char* key;
  int cost;
};
constexpr KeyInfo kKeys[] = {
    {"subject_contains", 5},
    {"subject_equals", 5},
    {"subject_matches", 6},
    {"body_contains", 9},
    {"body_matches", 9},
    {"from_address", 1},
    {"from_domain", 1},
    {"from_matches", 3},
    {"from_name_contains", 3},
    {"to", 1},
    {"to_address", 2},
    {"cc_address", 2},
    {"recipient_address", 2},
    {"recipient_domain", 2},
    {"recipient_tag", 2},
    {"recipient", 2},
    {"header", 4},
    {"has_attachment", 0},
    {"attachment_name_matches", 3},
    {"attachment_type", 2},
    {"importance", 0},
    {"folder", 1},
    {"queue_hint", 1},
    {"all", 7},
    {"any", 7},
    {"not", 7},
};

int KeyCost(absl::string_view key) {
  for (const KeyInfo& k : kKeys) {
    if (key == k.key) return k.cost;
  }
  return 100;
}

std::string Lower(absl::string_view s) { return absl::AsciiStrToLower(s); }

bool HasSpace(absl::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isspace(static_cast<unsigned char>(c)) ||
           absl::ascii_iscntrl(static_cast<unsigned char>(c));
  });
}

class Compiler {
 public:
  explicit Compiler(std::vector<FieldError>* errors) : errors_(errors) {}

  // A map of conditions, ANDed. Null on error or when empty (reported unless allow_empty).
  std::unique_ptr<Condition> CompileMap(const Struct& map, const std::string& path, int depth) {
    if (map.fields().empty()) {
      Error(path, "must not be empty (an empty condition map would match every message)");
      return nullptr;
    }
    if (depth > kMaxDepth) {
      Error(path, absl::StrCat("conditions nest deeper than ", kMaxDepth,
                               " levels; flatten them with all/any"));
      return nullptr;
    }
    std::vector<std::string> keys;
    for (const auto& [key, unused] : map.fields()) keys.push_back(key);
    std::sort(keys.begin(), keys.end(), [](const std::string& a, const std::string& b) {
      int ca = KeyCost(a), cb = KeyCost(b);
      return ca != cb ? ca < cb : a < b;
    });
    std::vector<std::unique_ptr<Condition>> children;
    bool ok = true;
    for (const std::string& key : keys) {
      std::string key_path = absl::StrCat(path, ".", key);
      std::unique_ptr<Condition> child = CompileKey(key, map.fields().at(key), key_path, depth);
      if (child == nullptr) {
        ok = false;
        continue;
      }
      children.push_back(std::move(child));
    }
    if (!ok) return nullptr;
    // Combinators take their cost from their contents: an `any` of two cheap checks runs
    // before a body regex.
    std::stable_sort(children.begin(), children.end(),
                     [](const auto& a, const auto& b) { return a->cost() < b->cost(); });
    if (children.size() == 1) return std::move(children[0]);
    return std::make_unique<AllNode>(path, std::move(children));
  }

 private:
  void Error(std::string path, std::string message) {
    errors_->push_back({std::move(path), std::move(message)});
  }

  void WrongType(const std::string& path, const char* expected, const Value& v) {
    // YAML turns 2024 or yes into a number or a boolean; say how to keep it text.
    bool quote_it = absl::StrContains(expected, "string") &&
                    (v.kind_case() == Value::kNumberValue || v.kind_case() == Value::kBoolValue);
    Error(path, absl::StrCat("expected ", expected, ", got ", ValueKindName(v),
                             quote_it ? " (put it in quotes to make it text)" : ""));
  }

  // A string or a non-empty list of strings; no value may be empty. `was_list` tells whether
  // element paths get an index.
  std::optional<std::vector<std::string>> Strings(const Value& v, const std::string& path,
                                                  bool* was_list = nullptr) {
    if (was_list != nullptr) *was_list = false;
    if (v.kind_case() == Value::kStringValue) {
      if (v.string_value().empty()) {
        Error(path, "must not be empty");
        return std::nullopt;
      }
      return std::vector<std::string>{v.string_value()};
    }
    if (v.kind_case() != Value::kListValue) {
      WrongType(path, "a string or a list of strings", v);
      return std::nullopt;
    }
    if (was_list != nullptr) *was_list = true;
    const ListValue& list = v.list_value();
    if (list.values().empty()) {
      Error(path, "must not be an empty list");
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (int i = 0; i < list.values_size(); ++i) {
      const Value& e = list.values(i);
      std::string element_path = absl::StrCat(path, "[", i, "]");
      if (e.kind_case() != Value::kStringValue) {
        WrongType(element_path, "a string", e);
        ok = false;
      } else if (e.string_value().empty()) {
        Error(element_path, "must not be empty");
        ok = false;
      } else {
        out.push_back(e.string_value());
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  std::optional<bool> Bool(const Value& v, const std::string& path) {
    if (v.kind_case() != Value::kBoolValue) {
      WrongType(path, "true or false", v);
      return std::nullopt;
    }
    return v.bool_value();
  }

  std::unique_ptr<TextMatcher> Text(TextOp op, const Value& v, const std::string& path) {
    bool was_list = false;
    std::optional<std::vector<std::string>> values = Strings(v, path, &was_list);
    if (!values) return nullptr;
    auto matcher = std::make_unique<TextMatcher>(op, std::move(*values));
    if (!matcher->Compile(path, was_list, errors_)) return nullptr;
    return matcher;
  }

  std::unique_ptr<Condition> TextLeafFor(const std::string& key, TextField field, TextOp op,
                                         const Value& v, const std::string& path) {
    std::unique_ptr<TextMatcher> m = Text(op, v, path);
    if (m == nullptr) return nullptr;
    return std::make_unique<TextLeaf>(KeyCost(key), path, field, std::move(m));
  }

  // Checks each element with `check` (which returns an error message or ""), and normalises
  // it to lower case. Element paths carry an index when the value was a list.
  std::optional<std::vector<std::string>> CheckedLowerStrings(
      const Value& v, const std::string& path, std::string (*check)(absl::string_view value)) {
    bool was_list = false;
    std::optional<std::vector<std::string>> values = Strings(v, path, &was_list);
    if (!values) return std::nullopt;
    bool ok = true;
    for (size_t i = 0; i < values->size(); ++i) {
      std::string& value = (*values)[i];
      if (std::string problem = check(value); !problem.empty()) {
        Error(was_list ? absl::StrCat(path, "[", i, "]") : path, problem);
        ok = false;
      }
      value = Lower(value);
    }
    if (!ok) return std::nullopt;
    return values;
  }

  static std::string CheckAddress(absl::string_view s) {
    size_t at = s.find('@');
    if (HasSpace(s) || at == absl::string_view::npos || at == 0 || at + 1 == s.size() ||
        s.find('@', at + 1) != absl::string_view::npos || s.find_first_of("<>,;") != s.npos) {
      return absl::StrCat(Quote(s), " is not an email address; write local@domain");
    }
    return "";
  }

  static std::string CheckDomain(absl::string_view s) {
    absl::string_view d = s;
    if (absl::StartsWith(d, "*.")) d.remove_prefix(2);
    if (d.empty() || HasSpace(d) || d.find_first_of("@*/<>,;") != d.npos || d.front() == '.' ||
        d.back() == '.' || absl::StrContains(d, "..")) {
      return absl::StrCat(Quote(s),
                          " is not a domain; write example.com (the domain and its subdomains) or "
                          "*.example.com (subdomains only)");
    }
    return "";
  }

  static std::string CheckTag(absl::string_view s) {
    if (HasSpace(s) || s.find_first_of("@+") != s.npos) {
      return absl::StrCat(Quote(s),
                          " is not a tag; write the part after '+' alone, e.g. billing for "
                          "support+billing@example.com");
    }
    return "";
  }

  static std::string CheckContentType(absl::string_view s) {
    size_t slash = s.find('/');
    bool ok = !HasSpace(s) && slash != s.npos && slash > 0 && slash + 1 < s.size() &&
              s.find_first_of("/;", slash + 1) == s.npos && s.substr(0, slash).find('*') == s.npos;
    if (ok) {
      absl::string_view subtype = s.substr(slash + 1);
      ok = subtype == "*" || subtype.find('*') == subtype.npos;
    }
    if (!ok) {
      return absl::StrCat(Quote(s),
                          " is not a MIME type; write type/subtype (application/pdf) "
                          "or type/* (image/*)");
    }
    return "";
  }

  std::optional<std::vector<std::string>> Domains(const Value& v, const std::string& path) {
    // "@example.com" is accepted as "example.com", as blocked addresses are written.
    Value copy;
    const Value* use = &v;
    if (v.kind_case() == Value::kStringValue && absl::StartsWith(v.string_value(), "@")) {
      copy.set_string_value(v.string_value().substr(1));
      use = &copy;
    } else if (v.kind_case() == Value::kListValue) {
      copy = v;
      for (Value& e : *copy.mutable_list_value()->mutable_values()) {
        if (e.kind_case() == Value::kStringValue && absl::StartsWith(e.string_value(), "@")) {
          e.set_string_value(e.string_value().substr(1));
        }
      }
      use = &copy;
    }
    return CheckedLowerStrings(*use, path, &CheckDomain);
  }

  std::unique_ptr<Condition> Recipient(const Value& v, const std::string& path, unsigned headers,
                                       const char* only) {
    std::vector<std::string> addresses, domains, tags;
    std::optional<std::vector<std::string>> values;
    if (std::string_view(only) == "address") {
      values = CheckedLowerStrings(v, path, &CheckAddress);
      if (!values) return nullptr;
      addresses = std::move(*values);
    } else if (std::string_view(only) == "domain") {
      values = Domains(v, path);
      if (!values) return nullptr;
      domains = std::move(*values);
    } else {
      values = CheckedLowerStrings(v, path, &CheckTag);
      if (!values) return nullptr;
      tags = std::move(*values);
    }
    return std::make_unique<RecipientLeaf>(path, headers, std::move(addresses), std::move(domains),
                                           std::move(tags));
  }

  std::unique_ptr<Condition> RecipientObject(const Value& v, const std::string& path) {
    if (v.kind_case() != Value::kStructValue) {
      WrongType(path, "an object {in, address, domain, tag}", v);
      return nullptr;
    }
    static const std::vector<std::string> kRecipientKeys = {"in", "address", "domain", "tag"};
    const auto& fields = v.struct_value().fields();
    bool ok = true;
    std::vector<std::string> keys;
    for (const auto& [key, unused] : fields) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys) {
      if (std::find(kRecipientKeys.begin(), kRecipientKeys.end(), key) == kRecipientKeys.end()) {
        Error(absl::StrCat(path, ".", key),
              absl::StrCat("unknown key; use in, address, domain or tag",
                           DidYouMean(key, kRecipientKeys)));
        ok = false;
      }
    }
    unsigned headers = kAllRecipientHeaders;
    if (auto it = fields.find("in"); it != fields.end()) {
      std::string in_path = absl::StrCat(path, ".in");
      bool was_list = false;
      std::optional<std::vector<std::string>> names = Strings(it->second, in_path, &was_list);
      if (!names) {
        ok = false;
      } else {
        headers = 0;
        for (size_t i = 0; i < names->size(); ++i) {
          std::string name = Lower((*names)[i]);
          auto info = std::find_if(kRecipientHeaders.begin(), kRecipientHeaders.end(),
                                   [&](const RecipientHeaderInfo& h) { return name == h.key; });
          if (info == kRecipientHeaders.end()) {
            Error(was_list ? absl::StrCat(in_path, "[", i, "]") : in_path,
                  absl::StrCat("unknown recipient header ", Quote((*names)[i]),
                               "; use to, cc, delivered_to or x_original_to"));
            ok = false;
          } else {
            headers |= info->bit;
          }
        }
      }
    }
    std::vector<std::string> addresses, domains, tags;
    auto take = [&](const char* key, std::vector<std::string>* out,
                    std::optional<std::vector<std::string>> (Compiler::*parse)(
                        const Value&, const std::string&)) {
      auto it = fields.find(key);
      if (it == fields.end()) return;
      auto values = (this->*parse)(it->second, absl::StrCat(path, ".", key));
      if (!values) {
        ok = false;
      } else {
        *out = std::move(*values);
      }
    };
    take("address", &addresses, &Compiler::Addresses);
    take("domain", &domains, &Compiler::Domains);
    take("tag", &tags, &Compiler::Tags);
    if (!fields.contains("address") && !fields.contains("domain") && !fields.contains("tag")) {
      Error(path, "needs at least one of address, domain or tag");
      ok = false;
    }
    if (!ok) return nullptr;
    return std::make_unique<RecipientLeaf>(path, headers, std::move(addresses), std::move(domains),
                                           std::move(tags));
  }

  std::optional<std::vector<std::string>> Addresses(const Value& v, const std::string& path) {
    return CheckedLowerStrings(v, path, &CheckAddress);
  }
  std::optional<std::vector<std::string>> Tags(const Value& v, const std::string& path) {
    return CheckedLowerStrings(v, path, &CheckTag);
  }

  std::unique_ptr<Condition> Header(const Value& v, const std::string& path) {
    if (v.kind_case() != Value::kStructValue) {
      WrongType(path, "an object {name, contains|equals|matches|present}", v);
      return nullptr;
    }
    static const std::vector<std::string> kHeaderKeys = {"name", "contains", "equals", "matches",
                                                         "present"};
    const auto& fields = v.struct_value().fields();
    bool ok = true;
    std::vector<std::string> keys;
    for (const auto& [key, unused] : fields) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
    std::vector<std::string> tests;
    for (const std::string& key : keys) {
      if (std::find(kHeaderKeys.begin(), kHeaderKeys.end(), key) == kHeaderKeys.end()) {
        Error(absl::StrCat(path, ".", key),
              absl::StrCat("unknown key; use name with one of contains, equals, matches or present",
                           DidYouMean(key, kHeaderKeys)));
        ok = false;
      } else if (key != "name") {
        tests.push_back(key);
      }
    }
    std::string name;
    auto name_it = fields.find("name");
    if (name_it == fields.end()) {
      Error(absl::StrCat(path, ".name"), "required: the header name, e.g. X-Priority");
      ok = false;
    } else if (name_it->second.kind_case() != Value::kStringValue) {
      WrongType(absl::StrCat(path, ".name"), "a string", name_it->second);
      ok = false;
    } else {
      name = name_it->second.string_value();
      // RFC 5322 field names: printable ASCII except ':'.
      bool valid = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return c > 32 && c < 127 && c != ':';
      });
      if (!valid) {
        Error(absl::StrCat(path, ".name"),
              absl::StrCat(Quote(name),
                           " is not a header name; write it without the colon, "
                           "e.g. X-Priority"));
        ok = false;
      }
    }
    if (tests.empty()) {
      Error(path, "needs one of contains, equals, matches or present");
      return nullptr;
    }
    if (tests.size() > 1) {
      Error(path,
            absl::StrCat("takes one of contains, equals, matches or present, not ",
                         absl::StrJoin(tests, " and "), "; combine several header tests with all"));
      return nullptr;
    }
    const std::string& test = tests[0];
    std::string test_path = absl::StrCat(path, ".", test);
    const Value& tv = fields.at(test);
    std::unique_ptr<TextMatcher> matcher;
    bool present = true;
    if (test == "present") {
      std::optional<bool> b = Bool(tv, test_path);
      if (!b) return nullptr;
      present = *b;
    } else {
      TextOp op = test == "contains" ? TextOp::kContains
                  : test == "equals" ? TextOp::kEquals
                                     : TextOp::kMatches;
      matcher = Text(op, tv, test_path);
      if (matcher == nullptr) return nullptr;
    }
    if (!ok) return nullptr;
    return std::make_unique<HeaderLeaf>(path, std::move(name), std::move(matcher), present);
  }

  std::unique_ptr<Condition> Importances(const Value& v, const std::string& path) {
    bool was_list = false;
    std::optional<std::vector<std::string>> values = Strings(v, path, &was_list);
    if (!values) return nullptr;
    std::vector<Importance> wanted;
    bool ok = true;
    for (size_t i = 0; i < values->size(); ++i) {
      std::string value = Lower((*values)[i]);
      if (value == "low") {
        wanted.push_back(Importance::kLow);
      } else if (value == "normal") {
        wanted.push_back(Importance::kNormal);
      } else if (value == "high") {
        wanted.push_back(Importance::kHigh);
      } else {
        Error(
            was_list ? absl::StrCat(path, "[", i, "]") : path,
            absl::StrCat("unknown importance ", Quote((*values)[i]), "; use low, normal or high"));
        ok = false;
      }
    }
    if (!ok) return nullptr;
    return std::make_unique<ImportanceLeaf>(path, std::move(wanted));
  }

  // all / any: a non-empty list of condition maps.
  std::optional<std::vector<std::unique_ptr<Condition>>> List(const Value& v,
                                                              const std::string& path, int depth) {
    if (v.kind_case() != Value::kListValue) {
      WrongType(path, "a list of condition objects", v);
      return std::nullopt;
    }
    const ListValue& list = v.list_value();
    if (list.values().empty()) {
      Error(path, "must not be an empty list");
      return std::nullopt;
    }
    std::vector<std::unique_ptr<Condition>> children;
    bool ok = true;
    for (int i = 0; i < list.values_size(); ++i) {
      std::unique_ptr<Condition> c =
          Object(list.values(i), absl::StrCat(path, "[", i, "]"), depth + 1);
      if (c == nullptr) {
        ok = false;
      } else {
        children.push_back(std::move(c));
      }
    }
    if (!ok) return std::nullopt;
    return children;
  }

  std::unique_ptr<Condition> Object(const Value& v, const std::string& path, int depth) {
    if (v.kind_case() != Value::kStructValue) {
      WrongType(path, "a condition object", v);
      return nullptr;
    }
    return CompileMap(v.struct_value(), path, depth);
  }

  std::unique_ptr<Condition> CompileKey(const std::string& key, const Value& v,
                                        const std::string& path, int depth) {
    if (key == "subject_contains") {
      return TextLeafFor(key, TextField::kSubject, TextOp::kContains, v, path);
    }
    if (key == "subject_equals") {
      return TextLeafFor(key, TextField::kSubject, TextOp::kEquals, v, path);
    }
    if (key == "subject_matches") {
      return TextLeafFor(key, TextField::kSubject, TextOp::kMatches, v, path);
    }
    if (key == "body_contains")
      return TextLeafFor(key, TextField::kBody, TextOp::kContains, v, path);
    if (key == "body_matches") return TextLeafFor(key, TextField::kBody, TextOp::kMatches, v, path);
    if (key == "from_matches") {
      return TextLeafFor(key, TextField::kFromAddress, TextOp::kMatches, v, path);
    }
    if (key == "from_name_contains") {
      return TextLeafFor(key, TextField::kFromName, TextOp::kContains, v, path);
    }
    if (key == "from_address") {
      auto values = Addresses(v, path);
      if (!values) return nullptr;
      return std::make_unique<AddressLeaf>(path, "sender address", "is",
                                           &MessageFacts::from_address, std::move(*values));
    }
    if (key == "from_domain") {
      auto values = Domains(v, path);
      if (!values) return nullptr;
      return std::make_unique<FromDomainLeaf>(path, std::move(*values));
    }
    if (key == "to") {
      auto values = Addresses(v, path);
      if (!values) return nullptr;
      return std::make_unique<AddressLeaf>(path, "sent to", "which is", &MessageFacts::sent_to,
                                           std::move(*values));
    }
    if (key == "to_address") return Recipient(v, path, kTo, "address");
    if (key == "cc_address") return Recipient(v, path, kCc, "address");
    if (key == "recipient_address") return Recipient(v, path, kAllRecipientHeaders, "address");
    if (key == "recipient_domain") return Recipient(v, path, kAllRecipientHeaders, "domain");
    if (key == "recipient_tag") return Recipient(v, path, kAllRecipientHeaders, "tag");
    if (key == "recipient") return RecipientObject(v, path);
    if (key == "header") return Header(v, path);
    if (key == "has_attachment") {
      std::optional<bool> b = Bool(v, path);
      if (!b) return nullptr;
      return std::make_unique<HasAttachmentLeaf>(path, *b);
    }
    if (key == "attachment_name_matches") {
      std::unique_ptr<TextMatcher> m = Text(TextOp::kMatches, v, path);
      if (m == nullptr) return nullptr;
      return std::make_unique<AttachmentNameLeaf>(path, std::move(m));
    }
    if (key == "attachment_type") {
      auto values = CheckedLowerStrings(v, path, &CheckContentType);
      if (!values) return nullptr;
      return std::make_unique<AttachmentTypeLeaf>(path, std::move(*values));
    }
    if (key == "importance") return Importances(v, path);
    if (key == "folder") {
      auto values = Strings(v, path);
      if (!values) return nullptr;
      return std::make_unique<NameLeaf>(path, "folder", &MessageFacts::folder, std::move(*values));
    }
    if (key == "queue_hint") {
      auto values = Strings(v, path);
      if (!values) return nullptr;
      return std::make_unique<NameLeaf>(path, "queue hint", &MessageFacts::queue_hint,
                                        std::move(*values));
    }
    if (key == "all" || key == "any") {
      auto children = List(v, path, depth);
      if (!children) return nullptr;
      if (key == "all") return std::make_unique<AllNode>(path, std::move(*children));
      return std::make_unique<AnyNode>(path, std::move(*children));
    }
    if (key == "not") {
      std::unique_ptr<Condition> child = Object(v, path, depth + 1);
      if (child == nullptr) return nullptr;
      return std::make_unique<NotNode>(path, std::move(child));
    }
    Error(path, absl::StrCat("unknown condition", DidYouMean(key, ConditionKeyNames()),
                             " (see docs/routes.md for the condition keys)"));
    return nullptr;
  }

  std::vector<FieldError>* errors_;
};

}  // namespace

const char* ValueKindName(const Value& value) {
  switch (value.kind_case()) {
    case Value::kNullValue:
      return "null";
    case Value::kNumberValue:
      return "a number";
    case Value::kStringValue:
      return "a string";
    case Value::kBoolValue:
      return "true/false";
    case Value::kStructValue:
      return "an object";
    case Value::kListValue:
      return "a list";
    case Value::KIND_NOT_SET:
      break;
  }
  return "nothing";
}

const std::vector<std::string>& ConditionKeyNames() {
  static const auto* keys = [] {
    auto* v = new std::vector<std::string>;
    for (const KeyInfo& k : kKeys) v->push_back(k.key);
    return v;
  }();
  return *keys;
}

std::shared_ptr<const Condition> CompileWhen(const Struct& when, std::vector<FieldError>* errors) {
  if (when.fields().empty()) return nullptr;
  size_t before = errors->size();
  std::unique_ptr<Condition> root = Compiler(errors).CompileMap(when, "when", 0);
  if (errors->size() != before) return nullptr;
  return std::shared_ptr<const Condition>(std::move(root));
}

}  // namespace postroom::rules::internal

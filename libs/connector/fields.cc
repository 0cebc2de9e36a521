#include "libs/connector/fields.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "postroom/v1/options.pb.h"

namespace postroom::connector {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Only our own messages can carry our options; google.protobuf.Struct is recursive.
bool OwnMessage(const FieldDescriptor* f) {
  return f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated() &&
         f->message_type()->file()->package() == v1::Connector::descriptor()->file()->package();
}

void CollectSecrets(const Descriptor* d, std::vector<const FieldDescriptor*>& chain,
                    std::set<const Descriptor*>& seen, std::vector<SecretField>& out) {
  if (!seen.insert(d).second) return;  // A message type that contains itself.
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    chain.push_back(f);
    if (f->options().GetExtension(v1::secret)) {
      SecretField s;
      s.name = f->name();
      for (const FieldDescriptor* link : chain) {
        s.path = s.path.empty() ? link->name() : absl::StrCat(s.path, ".", link->name());
      }
      s.chain = chain;
      const FieldDescriptor* has = d->FindFieldByName(absl::StrCat("has_", f->name()));
      if (has != nullptr && has->cpp_type() == FieldDescriptor::CPPTYPE_BOOL) s.has_flag = has;
      out.push_back(std::move(s));
    } else if (OwnMessage(f)) {
      CollectSecrets(f->message_type(), chain, seen, out);
    }
    chain.pop_back();
  }
  seen.erase(d);
}

// The message holding the secret's field; created on the way down.
Message* MutableHolder(v1::Connector& c, const SecretField& f) {
  Message* m = &c;
  for (size_t i = 0; i + 1 < f.chain.size(); ++i) {
    m = m->GetReflection()->MutableMessage(m, f.chain[i]);
  }
  return m;
}

}  // namespace

const std::vector<SecretField>& SecretFields() {
  static const std::vector<SecretField>* fields = [] {
    auto* out = new std::vector<SecretField>;
    std::vector<const FieldDescriptor*> chain;
    std::set<const Descriptor*> seen;
    CollectSecrets(v1::Connector::descriptor(), chain, seen, *out);
    return out;
  }();
  return *fields;
}

const SecretField* FindSecretField(absl::string_view name) {
  for (const SecretField& f : SecretFields()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string SecretOwner(absl::string_view connector, absl::string_view field) {
  return absl::StrCat("connector:", connector, ":", field);
}

std::string WebhookSecretOwner(absl::string_view webhook) {
  return absl::StrCat("webhook:", webhook, ":secret");
}

std::string SecretValue(const v1::Connector& c, const SecretField& f) {
  const Message* m = &c;
  for (size_t i = 0; i + 1 < f.chain.size(); ++i) {
    m = &m->GetReflection()->GetMessage(*m, f.chain[i]);
  }
  return m->GetReflection()->GetString(*m, f.chain.back());
}

void SetSecret(v1::Connector& c, const SecretField& f, std::string value) {
  Message* m = MutableHolder(c, f);
  m->GetReflection()->SetString(m, f.chain.back(), std::move(value));
}

void SetHasSecret(v1::Connector& c, const SecretField& f, bool has) {
  if (f.has_flag == nullptr) return;
  Message* m = MutableHolder(c, f);
  m->GetReflection()->SetBool(m, f.has_flag, has);
}

void ClearSecrets(v1::Connector& c) {
  for (const SecretField& f : SecretFields()) {
    Message* m = MutableHolder(c, f);
    m->GetReflection()->ClearField(m, f.chain.back());
  }
}

void ClearOutputOnly(Message& m) {
  const google::protobuf::Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> set;
  r->ListFields(m, &set);
  for (const FieldDescriptor* f : set) {
    if (f->options().GetExtension(v1::output_only)) {
      r->ClearField(&m, f);
    } else if (OwnMessage(f)) {
      ClearOutputOnly(*r->MutableMessage(&m, f));
    }
  }
}

}  // namespace postroom::connector

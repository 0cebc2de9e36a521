// libFuzzer target: acknowledgement templates. The input is subject "\f" body_text "\f"
// body_html "\f" a value: validated as on save, compiled, and rendered with every known
// placeholder set to the value (hostile values come from the mail: subject, sender name).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_input.h"
#include "libs/templates/template.h"

using namespace postroom::templates;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> in = postroom::fuzz::SplitInput(data, size, 4);
  TemplateSource source{in[0], in[1], in[2]};
  (void)ValidateTemplate(source);
  auto compiled = CompiledTemplate::Compile(source, "fuzz");
  Values values;
  for (const PlaceholderInfo& p : KnownPlaceholders()) values[p.name] = in[3];
  if (compiled.ok()) {
    (void)compiled->Render(values);
    (void)compiled->Render({});
    (void)compiled->UsedPlaceholders();
  }
  (void)EscapeHtml(in[3]);
  (void)HeaderSafe(in[3]);
  return 0;
}

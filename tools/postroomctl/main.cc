// postroomctl: the admin command-line client. See docs/postroomctl.md.
#include <string>
#include <vector>

#include "tools/postroomctl/command.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  postroom::ctl::Environment env = postroom::ctl::ProcessEnvironment();
  return postroom::ctl::Run(args, env);
}

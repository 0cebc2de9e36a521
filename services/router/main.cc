#include "libs/server/placeholder_main.h"

int main(int argc, char** argv) {
  return postroom::server::RunPlaceholderService(argc, argv, "router", 50052, 9102,
                                                 "routes each email to a work item (see the router issue)");
}

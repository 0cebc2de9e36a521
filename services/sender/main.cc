#include "libs/server/placeholder_main.h"

int main(int argc, char** argv) {
  return postroom::server::RunPlaceholderService(argc, argv, "sender", 50054, 9104,
                                                 "delivers queued email over SMTP or Graph from the outbox (see the sender issue)");
}

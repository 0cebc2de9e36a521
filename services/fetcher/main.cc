#include "libs/server/placeholder_main.h"

int main(int argc, char** argv) {
  return postroom::server::RunPlaceholderService(argc, argv, "fetcher", 50053, 9103,
                                                 "polls IMAP, POP3 and Microsoft Graph mailboxes (see the fetcher issue)");
}

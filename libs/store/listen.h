#pragma once

#include <string>

#include "libs/base/wakeup.h"

namespace postroom::store {

// LISTENs on `channel` on a connection of its own and calls wake.Notify() for each
// notification, until wake.stopping() (checked every second). A lost connection is logged and
// reopened after 5 s; callers poll as well, so a gap only delays them. Never throws.
void ListenUntilStopped(const std::string& uri, const std::string& channel, Wakeup& wake);

}  // namespace postroom::store

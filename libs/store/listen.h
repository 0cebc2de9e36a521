#pragma once

#include <string>
#include <vector>

#include "libs/base/wakeup.h"

namespace postroom::store {

// LISTENs on `channel` on a connection of its own and calls Notify() on `wake` and on each of
// `also` for every notification, until wake.stopping() (checked every second). A lost
// connection is logged and reopened after 5 s; callers poll as well, so a gap only delays
// them. Never throws.
void ListenUntilStopped(const std::string& uri, const std::string& channel, Wakeup& wake,
                        const std::vector<Wakeup*>& also = {});

}  // namespace postroom::store

#include "libs/store/listen.h"

#include "libs/base/log.h"
#include "libs/store/database.h"

namespace postroom::store {
namespace {

class Receiver : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, const std::string& channel,
           const std::vector<Wakeup*>& wakes)
      : pqxx::notification_receiver(c, channel), wakes_(wakes) {}
  void operator()(const std::string&, int) override {
    for (Wakeup* w : wakes_) w->Notify();
  }

 private:
  const std::vector<Wakeup*>& wakes_;
};

}  // namespace

void ListenUntilStopped(const std::string& uri, const std::string& channel, Wakeup& wake,
                        const std::vector<Wakeup*>& also) {
  std::vector<Wakeup*> wakes = also;
  wakes.insert(wakes.begin(), &wake);
  while (!wake.stopping()) {
    try {
      pqxx::connection c(uri);
      Receiver receiver(c, channel, wakes);
      for (Wakeup* w : wakes) w->Notify();  // Anything queued while we were not listening.
      while (!wake.stopping()) c.await_notification(1, 0);
    } catch (const std::exception& e) {
      LogWarning("listen_failed",
                 {{"channel", channel}, {"error", e.what()}, {"note", "retrying in 5 s"}});
      for (int i = 0; i < 50 && !wake.stopping(); ++i) absl::SleepFor(absl::Milliseconds(100));
    }
  }
}

}  // namespace postroom::store

#include "libs/secrets/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace postroom::secrets {
namespace {

constexpr off_t kMaxPrivateFileSize = 1 << 20;

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status ErrnoStatus(int err, std::string_view what, const std::string& path,
                         std::string_view action) {
  std::string msg = absl::StrCat(AbslView(what), " \"", path, "\": cannot ", AbslView(action), ": ",
                                 std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(absl::StrCat(msg, " (run as a user that may read it)"));
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    default:
      return absl::InternalError(msg);
  }
}

// Closes the descriptor on every path out of a function.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports close()'s error, which for writes can be the first sign of a full disk.
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "file", path, "write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd) != 0) return ErrnoStatus(errno, "file", path, "fsync");
  return absl::OkStatus();
}

absl::Status WriteNew(const std::string& path, std::string_view contents) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) return ErrnoStatus(errno, "file", path, "create");
  // The umask may have narrowed 0600 further, never widened it; fchmod pins it exactly.
  if (::fchmod(fd.get(), 0600) != 0) return ErrnoStatus(errno, "file", path, "chmod 600");
  if (absl::Status st = WriteAll(fd.get(), contents, path); !st.ok()) {
    ::unlink(path.c_str());
    return st;
  }
  if (fd.Close() != 0) {
    int err = errno;
    ::unlink(path.c_str());
    return ErrnoStatus(err, "file", path, "close");
  }
  return absl::OkStatus();
}

void SyncParentDir(const std::string& path) {
  std::string dir = ".";
  if (size_t slash = path.rfind('/'); slash != std::string::npos) {
    dir = slash == 0 ? "/" : path.substr(0, slash);
  }
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  // Best effort: the rename is already visible; this only makes it survive power loss sooner.
  if (fd.get() >= 0) ::fsync(fd.get());
}

}  // namespace

absl::StatusOr<SecureString> ReadPrivateFile(const std::string& path, std::string_view what) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus(errno, what, path, "open");
  struct stat st;
  // fstat on the open descriptor checks the very file we read, not whatever the path names later.
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, what, path, "stat");
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(AbslView(what), " \"", path, "\" is not a regular file"));
  }
  if ((st.st_mode & 0007) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s \"%s\" has mode %04o, so every user on this host can access it; run `chmod 600 %s` "
        "(in Kubernetes set defaultMode: 0400 or 0440 on the Secret volume)",
        AbslView(what), path, st.st_mode & 07777, path));
  }
  if (st.st_size > kMaxPrivateFileSize) {
    return absl::InvalidArgumentError(absl::StrCat(AbslView(what), " \"", path, "\" is ",
                                                   st.st_size, " bytes; the limit is 1 MiB"));
  }
  SecureString out;
  std::string& buf = out.mutable_str();
  // Sized once so that the secret never sits in an abandoned, unwiped buffer after a regrow.
  buf.resize(static_cast<size_t>(kMaxPrivateFileSize) + 1);
  size_t used = 0;
  while (used < buf.size()) {
    ssize_t n = ::read(fd.get(), buf.data() + used, buf.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, what, path, "read");
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > static_cast<size_t>(kMaxPrivateFileSize)) {
    return absl::InvalidArgumentError(
        absl::StrCat(AbslView(what), " \"", path, "\" is larger than the 1 MiB limit"));
  }
  // Shrinking in place keeps the same buffer; the tail is zero or wiped by SecureString later.
  buf.resize(used);
  return out;
}

absl::Status CreatePrivateFile(const std::string& path, std::string_view contents) {
  return WriteNew(path, contents);
}

absl::Status ReplacePrivateFile(const std::string& path, std::string_view contents) {
  const std::string tmp = path + ".tmp";
  if (absl::Status st = WriteNew(tmp, contents); !st.ok()) return st;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus(err, "file", path, "replace");
  }
  SyncParentDir(path);
  return absl::OkStatus();
}

}  // namespace postroom::secrets

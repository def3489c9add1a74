#include "vigil/events/curve.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>

namespace vigil::events {

namespace {

constexpr std::size_t kZ85KeyLength = 40;

std::string trimmed(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

std::optional<CurveKey> decodeZ85(const std::string& text) {
  if (text.size() != kZ85KeyLength) return std::nullopt;
  CurveKey key{};
  if (zmq_z85_decode(key.data(), text.c_str()) == nullptr) return std::nullopt;
  return key;
}

void writeWhole(int fd, const std::string& text, const std::string& path) {
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    written += static_cast<std::size_t>(n);
  }
}

// Exclusive create: a key pair is never silently replaced (clients that
// trusted the old public key would be locked out, or worse, the secret lost).
void createFile(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno) +
                             (errno == EEXIST ? " (remove it first to make a new key)" : ""));
  }
  try {
    // The umask may have taken bits away, never added: fchmod makes it exact.
    if (::fchmod(fd, mode) != 0) throw std::runtime_error("cannot chmod " + path + ": " + std::strerror(errno));
    writeWhole(fd, text, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

std::optional<std::array<std::uint8_t, 16>> parseAddress(const std::string& text) {
  std::array<std::uint8_t, 16> address{};
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    address[10] = address[11] = 0xff;
    std::memcpy(address.data() + 12, &v4, 4);
    return address;
  }
  if (inet_pton(AF_INET6, text.c_str(), address.data()) == 1) return address;
  return std::nullopt;
}

}  // namespace

bool curveAvailable() { return zmq_has("curve") != 0; }

CurveKeyPair generateCurveKeyPair() {
  if (!curveAvailable()) throw std::runtime_error("this libzmq was built without CURVE");
  char public_text[kZ85KeyLength + 1] = {};
  char secret_text[kZ85KeyLength + 1] = {};
  if (zmq_curve_keypair(public_text, secret_text) != 0) {
    throw std::runtime_error(std::string("cannot make a CURVE key pair: ") + zmq_strerror(zmq_errno()));
  }
  return {*decodeZ85(public_text), *decodeZ85(secret_text)};
}

std::string z85Text(const CurveKey& key) {
  char text[kZ85KeyLength + 1] = {};
  zmq_z85_encode(text, key.data(), key.size());
  return text;
}

KeyFiles writeCurveKeyPair(const CurveKeyPair& pair, const std::string& directory, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
    throw std::runtime_error("key name '" + name + "' must be a plain file name (no '/', not starting with '.')");
  }
  const std::filesystem::path dir = directory.empty() ? "." : directory;
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) throw std::runtime_error("cannot create " + dir.string() + ": " + error.message());
  KeyFiles files{(dir / (name + ".key")).string(), (dir / (name + ".pub")).string()};
  createFile(files.secret_path,
             "# vigil CURVE secret key '" + name + "': keep it on this host, readable by its owner only\n" +
                 z85Text(pair.secret_key) + "\n",
             S_IRUSR | S_IWUSR);
  try {
    createFile(files.public_path,
               "# vigil CURVE public key '" + name + "': copy it to the hosts that must trust this one\n" +
                   z85Text(pair.public_key) + "\n",
               S_IRUSR | S_IWUSR | S_IRGRP | S_IROTH);
  } catch (...) {
    ::unlink(files.secret_path.c_str());  // no half-made pair left behind
    throw;
  }
  return files;
}

CurveKey readCurveKey(const std::string& path) {
  // A key file is a few lines: anything else (a device, a FIFO, a huge file
  // named by mistake) is refused before it is read.
  constexpr std::uintmax_t kMaxKeyFileBytes = 4096;
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error) throw std::runtime_error("cannot read " + path + ": " + error.message());
  if (!std::filesystem::is_regular_file(status) || std::filesystem::file_size(path, error) > kMaxKeyFileBytes) {
    throw std::runtime_error(path + " is not a key file (a regular file of at most 4 KiB)");
  }
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  std::string line;
  while (std::getline(in, line)) {
    line = trimmed(line);
    if (line.empty() || line[0] == '#') continue;
    if (auto key = decodeZ85(line)) return *key;
    throw std::runtime_error(path + " does not hold a CURVE key (expected 40 characters of Z85, as `vigil keygen` writes)");
  }
  throw std::runtime_error(path + " holds no key (expected 40 characters of Z85, as `vigil keygen` writes)");
}

CurveKeyPair readCurveSecretKey(const std::string& path) {
  CurveKeyPair pair;
  pair.secret_key = readCurveKey(path);
  const std::string secret_text = z85Text(pair.secret_key);
  char public_text[kZ85KeyLength + 1] = {};
  if (zmq_curve_public(public_text, secret_text.c_str()) != 0) {
    throw std::runtime_error("cannot derive the public key of " + path + ": " + zmq_strerror(zmq_errno()));
  }
  pair.public_key = *decodeZ85(public_text);
  return pair;
}

std::set<CurveKey> readAuthorizedKeys(const std::string& directory) {
  std::set<CurveKey> keys;
  std::error_code error;
  std::filesystem::directory_iterator it(directory, error);
  if (error) throw std::runtime_error("cannot read the authorized keys directory " + directory + ": " + error.message());
  for (; it != std::filesystem::directory_iterator(); it.increment(error)) {
    if (error) throw std::runtime_error("cannot read " + directory + ": " + error.message());
    if (it->path().extension() != ".pub") continue;
    keys.insert(readCurveKey(it->path().string()));
  }
  return keys;
}

AddressRange parseAddressRange(const std::string& text) {
  const auto slash = text.find('/');
  const std::string host = text.substr(0, slash);
  const auto address = parseAddress(host);
  if (!address) throw std::runtime_error("'" + text + "' is not an IP address or ADDRESS/BITS range");
  AddressRange range{*address, 128};
  const bool v4 = host.find(':') == std::string::npos;
  if (slash != std::string::npos) {
    const std::string bits = text.substr(slash + 1);
    const int max = v4 ? 32 : 128;
    if (bits.empty() || bits.size() > 3 || bits.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(bits) > max) {
      throw std::runtime_error("'" + text + "' has a bad prefix length (0-" + std::to_string(max) + ")");
    }
    range.bits = std::stoi(bits) + (v4 ? 96 : 0);
  }
  return range;
}

bool addressAllowed(const std::string& text, const std::vector<AddressRange>& ranges) {
  if (ranges.empty()) return true;
  const auto address = parseAddress(text);
  if (!address) return false;
  for (const AddressRange& range : ranges) {
    bool inside = true;
    for (int bit = 0; bit < range.bits && inside; ++bit) {
      const auto mask = static_cast<std::uint8_t>(0x80 >> (bit % 8));
      inside = ((*address)[bit / 8] & mask) == (range.address[bit / 8] & mask);
    }
    if (inside) return true;
  }
  return false;
}

bool isLocalOnlyEndpoint(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) == 0 || endpoint.rfind("inproc://", 0) == 0) return true;
  constexpr std::string_view kTcp = "tcp://";
  if (endpoint.rfind(kTcp.data(), 0) != 0) return false;
  std::string host = endpoint.substr(kTcp.size());
  // tcp://[::1]:5555, tcp://127.0.0.1:5555; a "source;destination" pair is
  // for connecting, not binding: judged by what comes after it.
  if (const auto semicolon = host.find(';'); semicolon != std::string::npos) host = host.substr(semicolon + 1);
  if (!host.empty() && host[0] == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else {
    host = host.substr(0, host.rfind(':'));
  }
  if (host == "localhost") return true;
  const auto address = parseAddress(host);
  if (!address) return false;  // *, an interface name, a host name: not provably local
  const std::array<std::uint8_t, 16> loopback6{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const bool mapped_v4 = (*address)[10] == 0xff && (*address)[11] == 0xff &&
                         std::all_of(address->begin(), address->begin() + 10, [](std::uint8_t b) { return b == 0; });
  return *address == loopback6 || (mapped_v4 && (*address)[12] == 127);
}

}  // namespace vigil::events

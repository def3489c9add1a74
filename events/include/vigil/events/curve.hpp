// Bus security with ZeroMQ's own CURVE (encryption and server authentication)
// and ZAP (which client keys and addresses may connect): key files, the
// authorized-keys directory, and address ranges. See docs/EVENTS.md section 10.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace vigil::events {

// A CURVE key is 32 bytes; files hold it as 40 characters of Z85.
using CurveKey = std::array<std::uint8_t, 32>;

struct CurveKeyPair {
  CurveKey public_key{};
  CurveKey secret_key{};
};

// True when the linked libzmq was built with CURVE (Debian's is, via libsodium).
bool curveAvailable();

// A fresh key pair (zmq_curve_keypair). Throws std::runtime_error without CURVE.
CurveKeyPair generateCurveKeyPair();

// Writes DIR/NAME.key (the secret key, mode 0600, created exclusively: an
// existing key is never overwritten) and DIR/NAME.pub. Returns both paths.
struct KeyFiles {
  std::string secret_path;
  std::string public_path;
};
KeyFiles writeCurveKeyPair(const CurveKeyPair& pair, const std::string& directory, const std::string& name);

std::string z85Text(const CurveKey& key);

// Key files: '#' lines are comments; the first other line is the key in Z85.
// Throws std::runtime_error naming the file and what is wrong with it.
CurveKey readCurveKey(const std::string& path);
// A secret key file, with the public key derived from it (zmq_curve_public).
CurveKeyPair readCurveSecretKey(const std::string& path);
// Every NAME.pub in `directory` (other files are ignored). Throws if the
// directory cannot be read or a .pub file is not a key.
std::set<CurveKey> readAuthorizedKeys(const std::string& directory);

// An address or a range ADDRESS/BITS (IPv4 or IPv6); IPv4 is kept in its
// IPv6-mapped form so "::ffff:10.0.0.1" matches 10.0.0.0/8.
struct AddressRange {
  std::array<std::uint8_t, 16> address{};
  int bits = 128;
};
AddressRange parseAddressRange(const std::string& text);  // throws std::runtime_error
bool addressAllowed(const std::string& address, const std::vector<AddressRange>& ranges);

// The publisher side. With a secret key, the PUB and snapshot sockets are
// CURVE servers and a ZAP handler admits only the authorized client keys
// (and, when `allow` is not empty, only those peer addresses).
struct CurveServerOptions {
  std::string secret_key_file;       // empty: no CURVE
  std::string authorized_keys_dir;   // NAME.pub files of the clients let in
  std::vector<std::string> allow;    // addresses or CIDR ranges; empty: any
  // Called (from the ZAP thread) for refused clients, at most about once a
  // second with how many more were refused meanwhile; default: spdlog::warn.
  std::function<void(const std::string& message)> on_refused;
  bool enabled() const { return !secret_key_file.empty(); }
};

// The subscriber side: its own key pair and the publisher's public key.
struct CurveClientOptions {
  std::string secret_key_file;   // public key derived from it
  std::string server_key_file;   // the publisher's NAME.pub
  bool enabled() const { return !secret_key_file.empty() || !server_key_file.empty(); }
};

// tcp:// on a loopback address, ipc:// and inproc://: nothing off this host
// can connect. Anything else (0.0.0.0, *, a LAN address, an interface name)
// can be reached from other hosts.
bool isLocalOnlyEndpoint(const std::string& endpoint);

}  // namespace vigil::events

#include "vigil/codes/format.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace vigil::codes {

namespace {

struct FormatEntry {
  Format format;
  const char* name;
  bool matrix;
};

constexpr FormatEntry kFormats[] = {
    {Format::QRCode, "qr", true},          {Format::DataMatrix, "datamatrix", true},
    {Format::Aztec, "aztec", true},        {Format::PDF417, "pdf417", true},
    {Format::EAN13, "ean13", false},       {Format::EAN8, "ean8", false},
    {Format::UPCA, "upca", false},         {Format::UPCE, "upce", false},
    {Format::Code128, "code128", false},   {Format::Code39, "code39", false},
    {Format::ITF, "itf", false},
};

constexpr std::string_view kAll = "all";

const FormatEntry& entryOf(Format format) {
  for (const auto& entry : kFormats) {
    if (entry.format == format) return entry;
  }
  throw std::invalid_argument("unknown code format value");
}

std::string acceptedNames() {
  std::string names(kAll);
  for (const auto& entry : kFormats) names += std::string(", ") + entry.name;
  return names;
}

std::string trimmedLower(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return out;
}

}  // namespace

const std::vector<Format>& allFormats() {
  static const std::vector<Format> formats = [] {
    std::vector<Format> list;
    for (const auto& entry : kFormats) list.push_back(entry.format);
    return list;
  }();
  return formats;
}

bool isMatrix(Format format) { return entryOf(format).matrix; }

const char* formatName(Format format) { return entryOf(format).name; }

std::optional<Format> formatFromName(std::string_view name) {
  const std::string wanted = trimmedLower(name);
  for (const auto& entry : kFormats) {
    if (wanted == entry.name) return entry.format;
  }
  return std::nullopt;
}

FormatSet FormatSet::all() {
  FormatSet set;
  for (const auto& entry : kFormats) set.add(entry.format);
  return set;
}

FormatSet FormatSet::matrix() {
  FormatSet set;
  for (const auto& entry : kFormats) {
    if (entry.matrix) set.add(entry.format);
  }
  return set;
}

FormatSet FormatSet::linear() {
  FormatSet set;
  for (const auto& entry : kFormats) {
    if (!entry.matrix) set.add(entry.format);
  }
  return set;
}

std::vector<Format> FormatSet::formats() const {
  std::vector<Format> list;
  for (const auto& entry : kFormats) {
    if (contains(entry.format)) list.push_back(entry.format);
  }
  return list;
}

FormatSet parseFormatList(std::string_view list) {
  FormatSet set;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string name = trimmedLower(list.substr(start, comma - start));
    start = comma + 1;
    if (name.empty()) continue;
    if (name == kAll) {
      set = FormatSet::all();
      continue;
    }
    const auto format = formatFromName(name);
    if (!format) {
      throw std::invalid_argument("unknown code format '" + name + "' (accepted: " +
                                  acceptedNames() + ")");
    }
    set.add(*format);
  }
  if (set.empty()) {
    throw std::invalid_argument("empty code format list (accepted: " + acceptedNames() + ")");
  }
  return set;
}

std::string formatListString(FormatSet set) {
  if (set == FormatSet::all()) return std::string(kAll);
  std::string out;
  for (Format format : set.formats()) {
    if (!out.empty()) out += ',';
    out += formatName(format);
  }
  return out;
}

}  // namespace vigil::codes

#include "vigil/analytics/registry.hpp"

#include <deque>
#include <mutex>
#include <stdexcept>

namespace vigil::analytics {

namespace {

// A deque: pointers handed out by the lookups stay valid as analytics are added.
struct Table {
  std::mutex mutex;
  std::deque<Analytic> rows{kFaces, kPlates, kCodes};
};

Table& table() {
  static Table instance;
  return instance;
}

template <typename Field>
const Analytic* findBy(Field field, std::string_view value) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  for (const Analytic& row : t.rows) {
    if (value == row.*field) return &row;
  }
  return nullptr;
}

// "a, b or c"
std::string listText(const char* Analytic::*field) {
  const std::vector<Analytic> rows = all();
  std::string text;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) text += i + 1 == rows.size() ? " or " : ", ";
    text += rows[i].*field;
  }
  return text;
}

}  // namespace

std::vector<Analytic> all() {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  return {t.rows.begin(), t.rows.end()};
}

void add(const Analytic& analytic) {
  if (!analytic.name || !analytic.element || !analytic.event_kind || !analytic.roi_type) {
    throw std::invalid_argument("an analytic needs a name, an element, an event kind and a ROI type");
  }
  if (!events::isValidSourceId(analytic.event_kind)) {
    // The kind is the middle of a topic: the same characters as a source id.
    throw std::invalid_argument(std::string("event kind '") + analytic.event_kind + "' cannot be part of a topic");
  }
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  for (const Analytic& row : t.rows) {
    bool same = true;
    for (auto field : {&Analytic::name, &Analytic::element, &Analytic::event_kind, &Analytic::roi_type}) {
      same = same && std::string_view(row.*field) == analytic.*field;
    }
    if (same && row.pixels == analytic.pixels) return;  // already there: each test may add its row
    for (auto field : {&Analytic::name, &Analytic::element, &Analytic::event_kind, &Analytic::roi_type}) {
      if (std::string_view(row.*field) == analytic.*field) {
        throw std::invalid_argument(std::string("analytic '") + analytic.name + "': '" + analytic.*field +
                                    "' already belongs to '" + row.name + "'");
      }
    }
  }
  t.rows.push_back(analytic);
}

const Analytic* byName(std::string_view name) { return findBy(&Analytic::name, name); }
const Analytic* byElement(std::string_view element) { return findBy(&Analytic::element, element); }
const Analytic* byEventKind(std::string_view kind) { return findBy(&Analytic::event_kind, kind); }
const Analytic* byRoiType(std::string_view roi_type) { return findBy(&Analytic::roi_type, roi_type); }

std::string namesText() { return listText(&Analytic::name); }
std::string eventKindsText() { return listText(&Analytic::event_kind); }

}  // namespace vigil::analytics

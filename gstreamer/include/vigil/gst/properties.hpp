// An element's settings and its properties, each property declared once.
//
// A settings struct holds what the user sets, with its defaults as member
// initialisers. A PropertyTable row names one property (name, nick, blurb,
// range, when it may change) and the member it sets; the table installs the
// GParamSpecs (defaults read from a default-constructed struct, so the
// documented default is what a fresh element holds), and serves set and get.
// Text that must be parsed (zones, regions, lists) is parsed once, when set;
// a value that does not parse is kept for start() to refuse, and while
// running the previous parsed value stays.
//
//   struct Settings { guint lost_after = 10; std::string roi_text; std::optional<cv::Rect2f> roi; };
//   static const auto properties = vigil::gst::PropertyTable<Settings>(settingsOf)
//       .count("lost-after", "Lost after", "Analysed frames ...", &Settings::lost_after, 1, 1000)
//       .text("roi", "Region", "Read only inside ...", &Settings::roi_text, parseRoi);
#pragma once

#include <gst/gst.h>

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace vigil::gst {

// A property value that could not be used: which property, why, and the text given.
struct Refusal {
  std::string property;
  std::string why;
  std::string value;
};

// Settings written by property setters (any thread) and read by the streaming
// thread: one copy per frame, so no lock is held across per-frame work.
template <typename T>
class SharedSettings {
 public:
  T copy() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return value_;
  }
  template <typename Fn>
  auto update(Fn&& change) {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::forward<Fn>(change)(value_);
  }
  // Records (non-empty `why`) or clears the refusal of `property`'s last value.
  template <typename Fn>
  auto updateChecked(const char* property, Fn&& change) {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::forward<Fn>(change)(value_, refusals_[property]);
  }
  // The first property whose current value was refused, if any.
  std::optional<Refusal> firstRefusal() const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [property, refusal] : refusals_) {
      if (!refusal.why.empty()) return refusal;
    }
    return std::nullopt;
  }

 private:
  mutable std::mutex mutex_;
  T value_{};
  std::map<std::string, Refusal> refusals_;
};

// When a property may change: only up to READY (models, sockets: read in
// start()), or also while PLAYING (read at the top of each frame).
enum class Mutable { kReady, kPlaying };

// What the analyser base needs of a table, whatever its settings type.
class ElementProperties {
 public:
  virtual ~ElementProperties() = default;
  // Installs every row on `klass`, the first with property id `first_id`.
  virtual void install(GObjectClass* klass, guint first_id) const = 0;
  virtual std::size_t size() const = 0;
  // Sets row `index` from `value`; returns the refusal when it does not parse.
  virtual std::optional<Refusal> set(GObject* object, std::size_t index, const GValue* value) const = 0;
  virtual void get(GObject* object, std::size_t index, GValue* value) const = 0;
  virtual std::optional<Refusal> firstRefusal(GObject* object) const = 0;
};

template <typename S>
class PropertyTable final : public ElementProperties {
 public:
  // The settings of an instance (in the element's private struct).
  using Access = SharedSettings<S>& (*)(GObject*);
  // Parses the text just set into the members derived from it; throws
  // std::invalid_argument to refuse it.
  using Parse = void (*)(S&);
  // A read-only property computed from the instance (statistics).
  using Read = void (*)(GObject*, GValue*);

  explicit PropertyTable(Access access) : access_(access) {}

  PropertyTable& flag(const char* name, const char* nick, const char* blurb, bool S::*member,
                      Mutable when = Mutable::kPlaying) {
    const bool initial = S{}.*member;
    return add(
        name, [=](GParamFlags flags) { return g_param_spec_boolean(name, nick, blurb, initial, flags); }, when,
        [member](S& s, const GValue* v) { s.*member = g_value_get_boolean(v) != FALSE; },
        [member](const S& s, GValue* v) { g_value_set_boolean(v, s.*member ? TRUE : FALSE); });
  }

  PropertyTable& count(const char* name, const char* nick, const char* blurb, guint S::*member, guint min,
                       guint max, Mutable when = Mutable::kPlaying) {
    const guint initial = S{}.*member;
    return add(
        name, [=](GParamFlags flags) { return g_param_spec_uint(name, nick, blurb, min, max, initial, flags); },
        when, [member](S& s, const GValue* v) { s.*member = g_value_get_uint(v); },
        [member](const S& s, GValue* v) { g_value_set_uint(v, s.*member); });
  }

  PropertyTable& number(const char* name, const char* nick, const char* blurb, double S::*member, double min,
                        double max, Mutable when = Mutable::kPlaying) {
    const double initial = S{}.*member;
    return add(
        name, [=](GParamFlags flags) { return g_param_spec_double(name, nick, blurb, min, max, initial, flags); },
        when, [member](S& s, const GValue* v) { s.*member = g_value_get_double(v); },
        [member](const S& s, GValue* v) { g_value_set_double(v, s.*member); });
  }

  // An enum member, documented by the registered GEnum `type` (its values are
  // the member's, cast). `Owner` is S or a base of it (settings that extend a
  // library's settings struct).
  template <typename E, typename Owner>
  PropertyTable& choice(const char* name, const char* nick, const char* blurb, GType (*type)(), E Owner::*base_member,
                        Mutable when = Mutable::kPlaying) {
    static_assert(std::is_base_of_v<Owner, S>, "the member must be of the settings struct or a base of it");
    E S::*member = base_member;
    const gint initial = static_cast<gint>(S{}.*member);
    return add(
        name, [=](GParamFlags flags) { return g_param_spec_enum(name, nick, blurb, type(), initial, flags); },
        when, [member](S& s, const GValue* v) { s.*member = static_cast<E>(g_value_get_enum(v)); },
        [member](const S& s, GValue* v) { g_value_set_enum(v, static_cast<gint>(s.*member)); });
  }

  // A string member; NULL sets the default. With `parse`, the text is parsed
  // into its derived members now, not per frame.
  PropertyTable& text(const char* name, const char* nick, const char* blurb, std::string S::*member,
                      Parse parse = nullptr, Mutable when = Mutable::kPlaying) {
    const std::string initial = S{}.*member;
    Row row;
    row.name = name;
    row.spec = [=](GParamFlags flags) {
      return g_param_spec_string(name, nick, blurb, initial.empty() ? nullptr : initial.c_str(), flags);
    };
    row.when = when;
    row.set = [=](SharedSettings<S>& shared, const GValue* v) -> std::optional<Refusal> {
      const gchar* given = g_value_get_string(v);
      const std::string value = given ? given : initial;
      return shared.updateChecked(name, [&](S& s, Refusal& refusal) -> std::optional<Refusal> {
        s.*member = value;
        refusal = Refusal{};
        if (!parse) return std::nullopt;
        S parsed = s;
        try {
          parse(parsed);
        } catch (const std::invalid_argument& error) {
          refusal = Refusal{name, error.what(), value};
          return refusal;
        }
        s = std::move(parsed);
        return std::nullopt;
      });
    };
    row.get = [member](const S& s, GValue* v) { g_value_set_string(v, (s.*member).c_str()); };
    rows_.push_back(std::move(row));
    return *this;
  }

  PropertyTable& readOnly(const char* name, Read read, std::function<GParamSpec*(GParamFlags)> spec) {
    Row row;
    row.name = name;
    row.spec = std::move(spec);
    row.read = read;
    rows_.push_back(std::move(row));
    return *this;
  }

  void install(GObjectClass* klass, guint first_id) const override {
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      const Row& row = rows_[i];
      GParamFlags flags = row.read ? G_PARAM_READABLE : G_PARAM_READWRITE;
      flags = static_cast<GParamFlags>(flags | G_PARAM_STATIC_STRINGS);
      if (!row.read) {
        flags = static_cast<GParamFlags>(
            flags | (row.when == Mutable::kPlaying ? GST_PARAM_MUTABLE_PLAYING : GST_PARAM_MUTABLE_READY));
      }
      g_object_class_install_property(klass, first_id + static_cast<guint>(i), row.spec(flags));
    }
  }

  std::size_t size() const override { return rows_.size(); }

  std::optional<Refusal> set(GObject* object, std::size_t index, const GValue* value) const override {
    const Row& row = rows_.at(index);
    if (row.read) return std::nullopt;
    SharedSettings<S>& shared = access_(object);
    if (row.set) return row.set(shared, value);
    shared.update([&](S& s) { row.assign(s, value); });
    return std::nullopt;
  }

  void get(GObject* object, std::size_t index, GValue* value) const override {
    const Row& row = rows_.at(index);
    if (row.read) return row.read(object, value);
    row.get(access_(object).copy(), value);
  }

  std::optional<Refusal> firstRefusal(GObject* object) const override { return access_(object).firstRefusal(); }

 private:
  struct Row {
    const char* name = nullptr;
    std::function<GParamSpec*(GParamFlags)> spec;
    Mutable when = Mutable::kPlaying;
    std::function<void(S&, const GValue*)> assign;  // plain values
    std::function<std::optional<Refusal>(SharedSettings<S>&, const GValue*)> set;  // parsed text
    std::function<void(const S&, GValue*)> get;
    Read read = nullptr;
  };

  PropertyTable& add(const char* name, std::function<GParamSpec*(GParamFlags)> spec, Mutable when,
                     std::function<void(S&, const GValue*)> assign, std::function<void(const S&, GValue*)> get) {
    Row row;
    row.name = name;
    row.spec = std::move(spec);
    row.when = when;
    row.assign = std::move(assign);
    row.get = std::move(get);
    rows_.push_back(std::move(row));
    return *this;
  }

  Access access_;
  std::vector<Row> rows_;
};

}  // namespace vigil::gst

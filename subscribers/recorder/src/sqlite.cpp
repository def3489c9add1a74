#include "vigil/recorder/sqlite.hpp"

namespace vigil::recorder {

bool SqliteError::transient() const {
  switch (code_ & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
      return true;
    default:
      return false;
  }
}

void check(sqlite3* db, int code, std::string_view what) {
  if (code == SQLITE_OK || code == SQLITE_ROW || code == SQLITE_DONE) return;
  std::string message(what);
  message += ": ";
  message += db ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  throw SqliteError(code, message);
}

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  sqlite3_stmt* raw = nullptr;
  const int code = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  statement_.reset(raw);
  check(db, code, "prepare '" + std::string(sql.substr(0, 60)) + "'");
}

Statement& Statement::bind(int index, std::int64_t value) {
  check(db_, sqlite3_bind_int64(get(), index, value), "bind");
  return *this;
}
Statement& Statement::bind(int index, double value) {
  check(db_, sqlite3_bind_double(get(), index, value), "bind");
  return *this;
}
Statement& Statement::bind(int index, std::string_view text) {
  check(db_,
        sqlite3_bind_text(get(), index, text.data(), static_cast<int>(text.size()),
                          SQLITE_TRANSIENT),
        "bind");
  return *this;
}
Statement& Statement::bind(int index, std::optional<std::int64_t> value) {
  return value ? bind(index, *value) : bindNull(index);
}
Statement& Statement::bind(int index, std::optional<double> value) {
  return value ? bind(index, *value) : bindNull(index);
}
Statement& Statement::bindBlob(int index, const void* data, std::size_t size) {
  check(db_, sqlite3_bind_blob(get(), index, data, static_cast<int>(size), SQLITE_TRANSIENT),
        "bind");
  return *this;
}
Statement& Statement::bindNull(int index) {
  check(db_, sqlite3_bind_null(get(), index), "bind");
  return *this;
}

bool Statement::step() {
  const int code = sqlite3_step(get());
  if (code == SQLITE_ROW) return true;
  if (code == SQLITE_DONE) return false;
  // The error is also reported by reset; keep the statement reusable.
  sqlite3_reset(get());
  check(db_, code, "step");
  return false;
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(get());
  sqlite3_clear_bindings(get());
}

std::int64_t Statement::columnInt(int column) const { return sqlite3_column_int64(get(), column); }
double Statement::columnDouble(int column) const { return sqlite3_column_double(get(), column); }
std::string Statement::columnText(int column) const {
  const auto* text = sqlite3_column_text(get(), column);
  return text ? std::string(reinterpret_cast<const char*>(text),
                            static_cast<std::size_t>(sqlite3_column_bytes(get(), column)))
              : std::string();
}
bool Statement::columnIsNull(int column) const {
  return sqlite3_column_type(get(), column) == SQLITE_NULL;
}
std::string_view Statement::columnBlob(int column) const {
  const void* data = sqlite3_column_blob(get(), column);
  return {static_cast<const char*>(data),
          static_cast<std::size_t>(sqlite3_column_bytes(get(), column))};
}

Database::Database(const std::string& path, Mode mode, std::chrono::milliseconds busy_timeout) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  if (mode == Mode::kExisting) flags = SQLITE_OPEN_READWRITE;
  if (mode == Mode::kReadOnly) flags = SQLITE_OPEN_READONLY;
  const int code = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  db_.reset(raw);
  check(raw, code, "open '" + path + "'");
  sqlite3_extended_result_codes(raw, 0);
  sqlite3_busy_timeout(raw, static_cast<int>(busy_timeout.count()));
}

void Database::exec(std::string_view sql) {
  char* error = nullptr;
  const int code = sqlite3_exec(db_.get(), std::string(sql).c_str(), nullptr, nullptr, &error);
  if (code != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errstr(code);
    sqlite3_free(error);
    throw SqliteError(code, std::string(sql.substr(0, 40)) + ": " + message);
  }
}

std::int64_t Database::scalarInt(std::string_view sql) {
  Statement statement = prepare(sql);
  return statement.step() ? statement.columnInt(0) : 0;
}

Transaction::Transaction(Database& db, bool immediate) : db_(db) {
  db_.exec(immediate ? "BEGIN IMMEDIATE" : "BEGIN");
}

Transaction::~Transaction() {
  if (!open_) return;
  // Rollback after a failed statement; nothing useful to do if it fails too.
  sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.exec("COMMIT");
  open_ = false;
}

}  // namespace vigil::recorder

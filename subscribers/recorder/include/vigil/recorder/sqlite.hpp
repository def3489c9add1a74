// A thin RAII layer over the SQLite C API: a connection and prepared
// statements that finalize themselves, and errors that keep the SQLite code so
// callers can tell "retry later" (busy, locked, full) from "bad request".
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace vigil::recorder {

class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }  // primary result code (SQLITE_BUSY, SQLITE_FULL, ...)
  // Conditions that may pass on their own: another writer, a full disk, an I/O hiccup.
  bool transient() const;

 private:
  int code_;
};

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, std::string_view sql);

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, std::optional<std::int64_t> value);
  Statement& bind(int index, std::optional<double> value);
  Statement& bindBlob(int index, const void* data, std::size_t size);
  Statement& bindNull(int index);

  // True when a row is ready, false when done. Throws SqliteError.
  bool step();
  // Runs to completion and resets, ready for the next binding.
  void run();
  void reset();

  std::int64_t columnInt(int column) const;
  double columnDouble(int column) const;
  std::string columnText(int column) const;
  bool columnIsNull(int column) const;
  std::string_view columnBlob(int column) const;

  sqlite3_stmt* get() const { return statement_.get(); }

 private:
  sqlite3* db_ = nullptr;
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> statement_;
};

class Database {
 public:
  enum class Mode { kReadWrite, kExisting, kReadOnly };  // kReadWrite creates the file
  Database(const std::string& path, Mode mode, std::chrono::milliseconds busy_timeout);

  void exec(std::string_view sql);
  Statement prepare(std::string_view sql) const { return Statement(db_.get(), sql); }
  std::int64_t scalarInt(std::string_view sql);
  std::int64_t changes() const { return sqlite3_changes(db_.get()); }
  std::int64_t lastInsertId() const { return sqlite3_last_insert_rowid(db_.get()); }
  sqlite3* get() const { return db_.get(); }

 private:
  std::unique_ptr<sqlite3, SqliteCloser> db_;
};

// Throws SqliteError for a non-OK result code, with the connection's message.
void check(sqlite3* db, int code, std::string_view what);

// Commits on commit(); rolls back if destroyed before (exception or early return).
class Transaction {
 public:
  explicit Transaction(Database& db, bool immediate = true);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  bool open_ = true;
};

}  // namespace vigil::recorder

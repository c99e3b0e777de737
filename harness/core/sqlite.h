#pragma once
// A thin RAII layer over libsqlite3: a connection configured for BenchPress's concurrency rules (WAL, foreign keys,
// busy timeout), prepared statements, and write transactions that retry while another process holds the lock.
#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace bp {

class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

class Db {
 public:
  // Opens (create = true: creates when missing) with WAL journaling, foreign keys on, synchronous FULL and a
  // busy timeout, so concurrent writers wait for each other instead of failing.
  Db(const std::string& path, bool create);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }
  // Runs one or more statements without results.
  void exec(const std::string& sql);
  // Runs `fn` inside BEGIN IMMEDIATE ... COMMIT (all or nothing). Retries the BEGIN and the COMMIT while the
  // database is busy; rolls back and rethrows when `fn` throws.
  void write_transaction(const std::function<void()>& fn);
  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

  static constexpr int kBusyTimeoutMs = 60000;

 private:
  void exec_retrying(const char* sql);
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Stmt {
 public:
  Stmt(const Db& db, const std::string& sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Binding by 1-based index.
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, int v) { return bind(i, (int64_t)v); }
  Stmt& bind(int i, double v);   // NaN and infinities bind as NULL (SQLite has no NaN)
  Stmt& bind(int i, const std::string& v);
  Stmt& bind(int i, const char* v) { return bind(i, std::string(v)); }
  Stmt& bind(int i, bool v) { return bind(i, (int64_t)v); }
  Stmt& bind(int i, std::nullopt_t) { return bind_null(i); }
  Stmt& bind_null(int i);
  template <typename T>
  Stmt& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind_null(i);
  }

  // Binds all parameters in order, from index 1.
  template <typename... A>
  Stmt& bind_all(const A&... args) {
    int i = 1;
    (bind(i++, args), ...);
    return *this;
  }

  // Advances; true while a row is available.
  bool step();
  // Steps a statement that returns no rows (INSERT/UPDATE/DELETE), then resets it for reuse.
  void run();
  void reset();

  int64_t col_int(int i) const { return sqlite3_column_int64(st_, i); }
  double col_double(int i) const { return sqlite3_column_double(st_, i); }
  std::string col_text(int i) const;
  bool col_null(int i) const { return sqlite3_column_type(st_, i) == SQLITE_NULL; }
  std::optional<double> col_opt_double(int i) const {
    return col_null(i) ? std::nullopt : std::optional<double>(col_double(i));
  }

 private:
  sqlite3_stmt* st_ = nullptr;
  sqlite3* db_ = nullptr;
  std::string sql_;
};

}  // namespace bp

#include "harness/core/sqlite.h"

#include <chrono>
#include <cmath>
#include <thread>

namespace bp {

namespace {

bool is_busy(int rc) { return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED; }

[[noreturn]] void fail(sqlite3* db, int rc, const std::string& context) {
  throw SqliteError(rc, "SQLite: " + context + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

// Busy waits beyond the busy handler (e.g. SQLITE_BUSY_RECOVERY, or a COMMIT waiting on readers) back off and retry
// for this long before giving up.
constexpr auto kRetryBudget = std::chrono::seconds(120);

}  // namespace

Db::Db(const std::string& path, bool create) : path_(path) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw SqliteError(rc, "SQLite: cannot open " + path + ": " + msg);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  try {
    // journal_mode=WAL is persistent in the file; switching needs a brief exclusive lock, hence the retries.
    exec_retrying("PRAGMA journal_mode=WAL");
    exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;");
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Db::~Db() {
  if (db_) sqlite3_close_v2(db_);
}

void Db::exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw SqliteError(rc, "SQLite: " + msg + " (in: " + sql.substr(0, 120) + ")");
  }
}

void Db::exec_retrying(const char* sql) {
  auto deadline = std::chrono::steady_clock::now() + kRetryBudget;
  for (int attempt = 0;; ++attempt) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) return;
    if (!is_busy(rc) || std::chrono::steady_clock::now() > deadline) fail(db_, rc, sql);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(200, 5 << std::min(attempt, 5))));
  }
}

void Db::write_transaction(const std::function<void()>& fn) {
  exec_retrying("BEGIN IMMEDIATE");
  try {
    fn();
    exec_retrying("COMMIT");
  } catch (...) {
    // A failed COMMIT may already have rolled back; ROLLBACK then reports "no transaction", which is harmless.
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

Stmt::Stmt(const Db& db, const std::string& sql) : db_(db.handle()), sql_(sql) {
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), (int)sql.size(), &st_, nullptr);
  if (rc != SQLITE_OK) fail(db_, rc, "prepare " + sql.substr(0, 120));
}

Stmt::~Stmt() { sqlite3_finalize(st_); }

Stmt& Stmt::bind(int i, int64_t v) {
  if (int rc = sqlite3_bind_int64(st_, i, v); rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}
Stmt& Stmt::bind(int i, double v) {
  if (!std::isfinite(v)) return bind_null(i);
  if (int rc = sqlite3_bind_double(st_, i, v); rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}
Stmt& Stmt::bind(int i, const std::string& v) {
  if (int rc = sqlite3_bind_text(st_, i, v.data(), (int)v.size(), SQLITE_TRANSIENT); rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  if (int rc = sqlite3_bind_null(st_, i); rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, rc, "step " + sql_.substr(0, 120));
}

void Stmt::run() {
  step();
  reset();
}

void Stmt::reset() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
}

std::string Stmt::col_text(int i) const {
  const unsigned char* p = sqlite3_column_text(st_, i);
  return p ? std::string(reinterpret_cast<const char*>(p), (size_t)sqlite3_column_bytes(st_, i)) : std::string();
}

}  // namespace bp

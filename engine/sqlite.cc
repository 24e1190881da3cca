#include "engine/sqlite.h"

#include <sqlite3.h>
#include <unistd.h>

#include "base/fd.h"

namespace wfrun::engine {

Result<sqlite3*> open_sqlite(const std::string& path, const char* synchronous) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Handle<sqlite3, sqlite3_close_v2> db(raw);
  // "unable to open database file (DIR/wfrun.db)": the caller adds what it was opening.
  auto fail = [&] {
    return Error(std::string(db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)) + " (" + path +
                 ")");
  };
  if (rc != SQLITE_OK) return fail();
  sqlite3_busy_timeout(db.get(), 10000);
  // WAL lets readers work while another process writes. Switching a brand-new database to WAL
  // takes an exclusive lock and, when another process is doing the same, SQLite may answer
  // SQLITE_BUSY at once without asking the busy handler: retry for as long as the busy
  // timeout would have waited.
  for (int attempt = 0;; ++attempt) {
    rc = sqlite3_exec(db.get(), "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || attempt >= 1000) break;
    ::usleep(10000);
  }
  if (rc != SQLITE_OK) return fail();
  std::string sync = std::string("PRAGMA synchronous=") + synchronous;
  if (sqlite3_exec(db.get(), sync.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
    return fail();
  return db.release();
}

}  // namespace wfrun::engine

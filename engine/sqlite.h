#pragma once
// Opening a SQLite database that several wfrun processes and threads share: WAL, a busy
// timeout, and the retried switch to WAL. Used by the run store and by `wfrun serve`'s queue.

#include <string>

#include "base/error.h"

struct sqlite3;

namespace wfrun::engine {

/// Opens (creating) the database at `path` in WAL mode with a 10 s busy timeout and the given
/// `PRAGMA synchronous` level ("NORMAL" or "FULL"). The caller owns the handle
/// (`Handle<sqlite3, sqlite3_close_v2>`). `NOMUTEX`: one connection per thread, or a lock.
Result<sqlite3*> open_sqlite(const std::string& path, const char* synchronous = "NORMAL");

}  // namespace wfrun::engine

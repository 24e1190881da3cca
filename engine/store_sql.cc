#include "engine/store_sql.h"

#include <chrono>

namespace wfrun::engine {

double store_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

Error StoreImpl::db_error(const std::string& what) const {
  return Error(what + ": " + sqlite3_errmsg(db.get()) + " (" + state_dir + "/wfrun.db)");
}

Status StoreImpl::exec(const char* sql, const char* what) {
  char* msg = nullptr;
  int rc = sqlite3_exec(db.get(), sql, nullptr, nullptr, &msg);
  if (rc != SQLITE_OK) {
    std::string m = msg ? msg : sqlite3_errstr(rc);
    sqlite3_free(msg);
    return Error(std::string(what) + ": " + m + " (" + state_dir + "/wfrun.db)");
  }
  return {};
}

Result<StmtHandle> StoreImpl::prepare(const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db.get(), sql, -1, &s, nullptr) != SQLITE_OK)
    return db_error("preparing a query");
  return StmtHandle(s);
}

Query::Query(StoreImpl& impl, const char* sql) : impl_(impl) {
  auto s = impl.prepare(sql);
  if (s) {
    owned_ = std::move(*s);
    stmt_ = owned_.get();
  } else {
    error_ = s.error();
  }
}

bool Query::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) {
    failed_ = true;
    error_ = impl_.db_error("querying the run store");
  }
  return false;
}

Status Query::run() {
  if (!ok()) return error_;
  step();
  if (failed()) return error_;
  return {};
}

std::string Query::text(int c) {
  const unsigned char* t = sqlite3_column_text(stmt_, c);
  return t ? std::string(reinterpret_cast<const char*>(t),
                         static_cast<size_t>(sqlite3_column_bytes(stmt_, c)))
           : std::string();
}

}  // namespace wfrun::engine

#include <chrono>
#include <condition_variable>
#include <thread>

#include "base/log.h"
#include "engine/sqlite.h"
#include "http/serve/queue_db.h"

namespace wfrun::serve {

namespace {

// A checkpoint once the WAL holds this many pages (SQLite's own default, 4 MB).
constexpr int kCheckpointPages = 1000;
// The log starts over only once a checkpoint has copied all of it; under a steady stream of
// commits the thread's passive checkpoints may never catch up. Past this many pages (12 MB)
// the writer checkpoints itself, as SQLite's automatic checkpoint would, so the WAL stays
// bounded: a rare pause instead of a file that grows for as long as the stream lasts.
constexpr int kWriterCheckpointPages = 3000;

}  // namespace

struct Queue::Impl::Checkpointer {
  Db db;
  std::mutex mu;
  std::condition_variable cv;
  bool due = false;
  bool stop = false;
  std::thread thread;

  void loop() {
    while (true) {
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stop || due; });
        if (stop) return;
        due = false;
      }
      try {
        checkpoint();
      } catch (const std::exception&) {
        // Only a failed allocation could get here; the next commit asks again.
      }
    }
  }

  void checkpoint() {
    // PASSIVE: copies what it can without taking the write lock; the writer commits on.
    const auto t0 = std::chrono::steady_clock::now();
    int wal = 0, copied = 0;
    const int rc = sqlite3_wal_checkpoint_v2(db.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal, &copied);
    if (debug_enabled())
      debug_log("queue", "checkpoint: " + std::to_string(copied) + " of " + std::to_string(wal) +
                             " WAL pages in " +
                             std::to_string(std::chrono::duration<double, std::milli>(
                                                std::chrono::steady_clock::now() - t0).count()) +
                             " ms" + (rc == SQLITE_OK ? "" : std::string(": ") + sqlite3_errstr(rc)));
  }
};

Queue::Impl::Impl() = default;
Queue::Impl::~Impl() = default;

namespace queue_db {

Status start_checkpointer(Queue::Impl& impl) {
  auto db = engine::open_sqlite(impl.path, "FULL");
  if (!db) return db.error().context("opening the run queue for checkpoints");
  auto c = std::make_unique<Queue::Impl::Checkpointer>();
  c->db.reset(*db);
  // Replaces SQLite's automatic checkpoint (itself a WAL hook) on the writer's connection.
  sqlite3_wal_hook(
      impl.db.get(),
      [](void* arg, sqlite3* db, const char*, int pages) {
        if (pages >= kWriterCheckpointPages) {
          (void)sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        } else if (pages >= kCheckpointPages) {
          auto* cp = static_cast<Queue::Impl::Checkpointer*>(arg);
          {
            std::lock_guard lock(cp->mu);
            cp->due = true;
          }
          cp->cv.notify_one();
        }
        return SQLITE_OK;
      },
      c.get());
  // A WAL that grew under a burst is cut back to this when it starts over.
  (void)impl.exec("PRAGMA journal_size_limit=16777216", "limiting the run queue's WAL");
  c->thread = std::thread([p = c.get()] { p->loop(); });
  impl.checkpointer = std::move(c);
  return {};
}

void stop_checkpointer(Queue::Impl& impl) {
  if (!impl.checkpointer) return;
  sqlite3_wal_hook(impl.db.get(), nullptr, nullptr);
  {
    std::lock_guard lock(impl.checkpointer->mu);
    impl.checkpointer->stop = true;
  }
  impl.checkpointer->cv.notify_one();
  if (impl.checkpointer->thread.joinable()) impl.checkpointer->thread.join();
  impl.checkpointer.reset();
}

}  // namespace queue_db

}  // namespace wfrun::serve

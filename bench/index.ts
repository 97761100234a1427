/**
 * `npm run bench`: runs every benchmark in a process of its own (so one's heap
 * does not skew another's timings) and prints their ratios against baselines
 * measured in the same run.
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

const benches = ["operation", "resilience", "http", "durable", "telemetry"]
const only = process.argv.slice(2)
let failed = 0
for (const name of benches) {
  if (only.length > 0 && !only.includes(name)) continue
  const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url))
  if (!existsSync(file)) continue
  const result = spawnSync(process.execPath, ["--import", "tsx", file], { stdio: "inherit" })
  if (result.status !== 0) failed++
}
process.exitCode = failed === 0 ? 0 : 1

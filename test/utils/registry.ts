import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { Effect } from "effect"

export const fixtureDir = NodePath.resolve(import.meta.dirname, "../fixtures/registry-basic")
export const exampleConfig = NodePath.resolve(import.meta.dirname, "../../examples/registry/services.json")

let counter = 0

/** Writes a config file into the fixture directory (so its modules resolve) and removes it with the scope. */
export const tempConfig = (content: unknown, dir: string = fixtureDir) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const file = NodePath.join(dir, `.tmp-${process.pid}-${++counter}.json`)
      NodeFs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content, null, 2))
      return file
    }),
    (file) => Effect.sync(() => NodeFs.rmSync(file, { force: true }))
  )

export const echoService = (extra: Record<string, unknown> = {}) => ({
  module: "./components/echo.ts",
  export: "EchoLive",
  config: { prefix: "> " },
  ...extra
})

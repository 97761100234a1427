import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as NodePath from "node:path"
import * as Cli from "../src/Cli.js"
import { echoService, exampleConfig, tempConfig } from "./utils/registry.js"

const root = NodePath.resolve(import.meta.dirname, "..")
const tsx = NodePath.join(root, "node_modules/.bin/tsx")
const bin = NodePath.join(root, "src/bin.ts")

const runBin = (...args: Array<string>) => {
  const result = spawnSync(tsx, [bin, ...args], { cwd: root, encoding: "utf8", timeout: 60_000 })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

describe("Cli", () => {
  it("validate: a valid config prints a summary and exits 0", () => {
    const result = runBin("validate", exampleConfig)
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("ok, 4 services (user, payment, payment-v2, notification)")
  })

  it.scoped("validate: a bad config prints the file and JSON path of each error and exits 1", () =>
    Effect.gen(function*() {
      const file = yield* tempConfig({
        services: { echo: echoService({ config: { prefix: 1 } }), other: echoService({ export: "Nope" }) }
      })
      const result = runBin("validate", file)
      expect(result.status).toBe(1)
      expect(result.stderr).toContain(`${file}: at services.echo.config.prefix: Expected string, actual 1`)
      const schema = yield* tempConfig({ services: { echo: { module: 1, clazz: "x" } } })
      const second = runBin("validate", schema)
      expect(second.status).toBe(1)
      expect(second.stderr).toContain(`${schema}: at services.echo.module: Expected string, actual 1`)
      expect(second.stderr).toContain(`${schema}: at services.echo.clazz: is unexpected`)
    }))

  it.effect("validate runs in-process through the exported command", () =>
    Effect.gen(function*() {
      const ok = yield* Effect.either(Cli.run(["node", "effect-loom", "validate", exampleConfig]))
      expect(Either.isRight(ok)).toBe(true)
      const bad = yield* Effect.either(Cli.run(["node", "effect-loom", "validate", "/nonexistent/services.json"]))
      expect(Either.isLeft(bad) && bad.left._tag).toBe("CliCommandFailed")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("serve: starts the HTTP server on the given port", () =>
    Effect.gen(function*() {
      const port = 20000 + (process.pid % 20000)
      const child = yield* Effect.acquireRelease(
        Effect.sync(() => spawn(tsx, [bin, "serve", exampleConfig, "--port", String(port), "--host", "127.0.0.1"], { cwd: root })),
        (child) => Effect.sync(() => child.kill("SIGTERM"))
      )
      yield* Effect.async<void>((resume) => {
        const onData = (chunk: Buffer) => {
          if (chunk.toString().includes("Listening on")) resume(Effect.void)
        }
        child.stdout.on("data", onData)
        child.stderr.on("data", onData)
      }).pipe(Effect.timeout("30 seconds"))
      const health = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status))
      expect(health).toBe(200)
      const user = yield* Effect.promise(() =>
        fetch(`http://127.0.0.1:${port}/services/user`, { method: "POST", body: JSON.stringify({ id: "u1" }) })
          .then((r) => r.json())
      )
      expect(user).toEqual({ id: "u1", name: "Ada", email: "ada@example.com" })
    }).pipe(Effect.scoped))
})

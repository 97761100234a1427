import { afterAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as os from "node:os"
import * as path from "node:path"
import * as SqlWorkflowStorage from "../src/SqlWorkflowStorage.js"
import * as WorkflowEngine from "../src/WorkflowEngine.js"
import * as WorkflowStorage from "../src/WorkflowStorage.js"
import { workflowSuite } from "./fixtures/durable-suite.js"

let n = 0
const prefix = `loom-wf-test-${process.pid}-`
afterAll(() => {
  for (const f of fs.readdirSync(os.tmpdir())) if (f.startsWith(prefix)) fs.rmSync(path.join(os.tmpdir(), f), { force: true })
})
workflowSuite("memory", () => WorkflowStorage.layerMemory)
workflowSuite("SQLite", () =>
  SqlWorkflowStorage.layerSqlite({
    filename: path.join(os.tmpdir(), `${prefix}${Date.now()}-${n++}.db`)
  }))


describe("workflow settings", () => {
  it.effect("bad settings fail at construction with a typed error naming the setting", () =>
    Effect.gen(function*() {
      const settings = [
        SqlWorkflowStorage.layerSqlite({ filename: "" }),
        SqlWorkflowStorage.layerSqlite({ filename: path.join(os.tmpdir(), "x.db"), maxBatch: 0 }),
        SqlWorkflowStorage.layerSqlite({ filename: path.join(os.tmpdir(), "x.db"), synchronous: "OFF" as "FULL" }),
        WorkflowEngine.layer({ pollInterval: 0 }).pipe(Layer.provide(WorkflowStorage.layerMemory))
      ]
      const errors = yield* Effect.forEach(settings, (layer) =>
        Effect.flip(Effect.scoped(Layer.build(Layer.fresh(layer as Layer.Layer<unknown, { readonly _tag: string; readonly message: string }>)))))
      expect(errors.map((e) => e._tag)).toEqual([
        "WorkflowConfigInvalid",
        "WorkflowConfigInvalid",
        "WorkflowConfigInvalid",
        "WorkflowConfigInvalid"
      ])
      expect(errors.map((e) => e.message.split(":")[0])).toEqual([
        "Invalid workflow setting filename",
        "Invalid workflow setting maxBatch",
        "Invalid workflow setting synchronous",
        "Invalid workflow setting pollInterval"
      ])
    }))
})

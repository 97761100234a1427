import { describe, expect, layer } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import * as NodePath from "node:path"
import * as HttpServer from "../src/HttpServer.js"
import { baseUrl, post, request } from "./utils/http.js"
import { exampleConfig, fixtureDir } from "./utils/registry.js"

const shop = { "x-api-key": "shop-secret-key" }

describe("HttpServer", () => {
  layer(HttpServer.layerFile(exampleConfig, { port: 0, host: "127.0.0.1" }))("example registry", (it) => {
    it.effect("POST /services/{name} executes and returns 200 with the encoded output", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const response = yield* post(`${base}/services/user`, { id: "u2" })
        expect(response.status).toBe(200)
        expect(response.body).toEqual({ id: "u2", name: "Grace", email: "grace@example.com" })
      }))

    it.effect("400 for an invalid payload, with the schema issue's path; 400 for a body that is not JSON", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const invalid = yield* post(`${base}/services/notification`, { to: "a", message: 42 })
        expect(invalid.status).toBe(400)
        expect(invalid.body).toMatchObject({
          _tag: "ComponentInputInvalid",
          issues: [{ path: "message", message: "Expected string, actual 42" }]
        })
        const notJson = yield* post(`${base}/services/notification`, "{ nope")
        expect(notJson.status).toBe(400)
        expect(notJson.body).toMatchObject({ _tag: "PayloadInvalid" })
      }))

    it.effect("401 without or with a wrong key, 403 for a key scoped to other services", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const payment = { userId: "u1", amount: 5, currency: "EUR" }
        expect((yield* post(`${base}/services/payment`, payment)).status).toBe(401)
        const wrong = yield* post(`${base}/services/payment`, payment, { "x-api-key": "shop-secret-kez" })
        expect(wrong.status).toBe(401)
        expect(wrong.body).toMatchObject({ _tag: "AuthenticationFailed", reason: "Invalid" })
        const scoped = yield* post(`${base}/services/payment`, payment, { authorization: "Bearer reporting-key" })
        expect(scoped.status).toBe(403)
        expect((yield* post(`${base}/services/payment`, payment, shop)).status).toBe(200)
      }))

    it.effect("404 for an unknown service", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const response = yield* post(`${base}/services/ghost`, {})
        expect(response.status).toBe(404)
        expect(response.body).toMatchObject({ _tag: "ComponentNotFound", service: "ghost" })
      }))

    it.effect("413 for a body over the limit", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const big = JSON.stringify({ to: "a", message: "x".repeat(1024 * 1024 + 10) })
        const response = yield* post(`${base}/services/notification`, big)
        expect(response.status).toBe(413)
        expect(response.body).toMatchObject({ _tag: "PayloadTooLarge", limit: 1048576 })
      }))

    it.effect("a chunked body without content-length is cut at the limit (413 or a reset), the server keeps serving", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const chunk = new TextEncoder().encode("x".repeat(64 * 1024))
        let sent = 0
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent === 0) controller.enqueue(new TextEncoder().encode("{\"to\":\"a\",\"message\":\""))
            if (sent++ < 20) controller.enqueue(chunk)
            else controller.close()
          }
        })
        const status = yield* Effect.promise(() =>
          fetch(`${base}/services/notification`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body,
            duplex: "half"
          } as RequestInit).then((r) => r.status, (error: Error) => String((error.cause as Error | undefined)?.message))
        )
        // the platform stops reading the stream at the limit and destroys it, which the client may see as a reset
        expect([413, "read ECONNRESET"]).toContain(status)
        expect((yield* request(`${base}/health`)).status).toBe(200)
      }))

    it.effect("422 for the handler's declared failure, with the encoded error", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const response = yield* post(`${base}/services/user`, { id: "nobody" })
        expect(response.status).toBe(422)
        expect(response.body).toMatchObject({ _tag: "ComponentFailed", error: { _tag: "UserNotFound", id: "nobody" } })
      }))

    it.effect("GET /services lists services with input and output JSON Schemas", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const response = yield* request(`${base}/services`)
        expect(response.status).toBe(200)
        const services = (response.body as { services: Array<{ name: string; input: any; interceptors: Array<string> }> })
          .services
        expect(services.map((s) => s.name).sort()).toEqual(["notification", "payment", "payment-v2", "user"])
        const user = services.find((s) => s.name === "user")!
        expect(user.input).toMatchObject({ type: "object", required: ["id"] })
        expect(user.interceptors).toEqual(["logging", "metrics", "tracing", "validation", "timeout", "cache"])
      }))

    it.effect("GET /health and GET /ready", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        expect(yield* request(`${base}/health`)).toMatchObject({ status: 200, body: { status: "ok" } })
        expect(yield* request(`${base}/ready`)).toMatchObject({ status: 200, body: { status: "ready", services: 4 } })
      }))

    it.effect("the OpenAPI document lists every service; the docs page is served", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const spec = yield* request(`${base}/openapi.json`)
        expect(spec.status).toBe(200)
        const paths = Object.keys((spec.body as { paths: Record<string, unknown> }).paths)
        for (const name of ["user", "payment", "payment-v2", "notification"]) {
          expect(paths).toContain(`/services/${name}`)
        }
        expect(paths).toContain("/health")
        const docs = yield* request(`${base}/docs`)
        expect(docs.status).toBe(200)
        expect(docs.headers.get("content-type")).toContain("text/html")
      }))

    it.effect("GET /metrics is Prometheus text and counts the calls made", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const countOf = (text: string) => {
          const line = text.split("\n").find((l) => l.startsWith("effect_loom_component_calls_total{service=\"notification\"}"))
          return line === undefined ? 0 : Number(line.split(" ")[1])
        }
        const first = (yield* request(`${base}/metrics`)).text
        const before = countOf(first)
        for (let i = 0; i < 3; i++) {
          expect((yield* post(`${base}/services/notification`, { to: "a", message: "m" })).status).toBe(200)
        }
        const response = yield* request(`${base}/metrics`)
        expect(response.status).toBe(200)
        expect(response.headers.get("content-type")).toContain("text/plain")
        const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$/
        for (const line of response.text.split("\n")) {
          if (line === "" || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue
          expect(line).toMatch(sample)
        }
        expect(response.text).toContain("# TYPE effect_loom_component_duration histogram")
        expect(countOf(response.text) - before).toBe(3)
        // http.server.request.duration (semantic conventions), labelled by method, route and status
        const durationCount = (text: string) => {
          const line = text.split("\n").find((l) =>
            l.startsWith("http_server_request_duration_count{") && l.includes("http_request_method=\"POST\"") &&
            l.includes("http_route=\"/services/:name\"") && l.includes("http_response_status_code=\"200\"")
          )
          return line === undefined ? 0 : Number(line.split(" ").at(-1))
        }
        expect(response.text).toContain("# TYPE http_server_request_duration histogram")
        expect(durationCount(response.text) - durationCount(first)).toBe(3)
      }))

    it.effect("1,000 random JSON bodies get only 2xx/4xx answers", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const statuses = new Set<number>()
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.json(), fc.constantFrom("user", "notification", "payment"), async (body, service) => {
              const response = await fetch(`${base}/services/${service}`, {
                method: "POST",
                headers: { "content-type": "application/json" },
                body
              })
              await response.text()
              statuses.add(response.status)
              return response.status < 500
            }),
            { numRuns: 1000, seed: 4242 }
          )
        )
        expect([...statuses].every((s) => s >= 200 && s < 500)).toBe(true)
      }))
  })

  // live clock: the timeout must really elapse
  layer(HttpServer.layerFile(NodePath.join(fixtureDir, "policies.json"), { port: 0, host: "127.0.0.1" }), {
    excludeTestServices: true
  })(
    "policies",
    (it) => {
      it.effect("429 when the rate limit refuses a call", () =>
        Effect.gen(function*() {
          const base = yield* baseUrl
          const statuses: Array<number> = []
          for (let i = 0; i < 3; i++) statuses.push((yield* post(`${base}/services/limited`, { text: "a" })).status)
          expect(statuses).toEqual([200, 200, 429])
        }))

      it.effect("503 once the circuit is open", () =>
        Effect.gen(function*() {
          const base = yield* baseUrl
          expect((yield* post(`${base}/services/fragile`, { text: "refuse" })).status).toBe(422)
          const open = yield* post(`${base}/services/fragile`, { text: "a" })
          expect(open.status).toBe(503)
          expect(open.body).toMatchObject({ _tag: "ServiceUnavailable", service: "fragile" })
        }))

      it.effect("504 when the call times out", () =>
        Effect.gen(function*() {
          const base = yield* baseUrl
          const response = yield* post(`${base}/services/slow`, { text: "slow" })
          expect(response.status).toBe(504)
          expect(response.body).toMatchObject({ _tag: "GatewayTimeout", service: "slow" })
        }))
    }
  )

  layer(HttpServer.layerFile(NodePath.join(fixtureDir, "services.json"), { port: 0, host: "127.0.0.1" }))(
    "fixture registry",
    (it) => {
      it.effect("500 for a handler defect, without a stack trace in the body", () =>
        Effect.gen(function*() {
          const base = yield* baseUrl
          const response = yield* post(`${base}/services/echo`, { text: "die" })
          expect(response.status).toBe(500)
          expect(response.text).not.toContain("secret-location")
          expect(response.text).not.toContain("at ")
          expect(response.body).toEqual({ _tag: "InternalError", message: "Internal server error" })
        }))
    }
  )
})

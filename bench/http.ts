/**
 * HTTP entrypoint overhead: `POST /services/{name}` through the registry with the logging, validation,
 * metrics and tracing interceptors enabled, against a bare `HttpApi` endpoint doing the same work (decode
 * the JSON body with the same schema, compute, encode). Both servers run on loopback in this process and
 * are loaded with autocannon in the same run, one after the other, after a warm-up.
 *
 *   npx tsx bench/http.ts           (also part of `npm run bench`)
 *
 * Target: ours ≥ 75% of the bare handler's requests per second.
 * The logging interceptor logs at Debug, below the default minimum level: its lines are built and
 * filtered, not written (writing one line per request to stdout would measure the terminal).
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as PlatformHttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import autocannon from "autocannon"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import { createServer } from "node:http"
import { fileURLToPath } from "node:url"
import * as Component from "../src/Component.js"
import * as Entrypoint from "../src/Entrypoint.js"
import * as HttpServer from "../src/HttpServer.js"
import * as Registry from "../src/Registry.js"
import * as ServiceEvent from "../src/ServiceEvent.js"

const Input = Schema.Struct({
  orderId: Schema.String,
  items: Schema.Array(Schema.Struct({ sku: Schema.String, quantity: Schema.Int, price: Schema.Number }))
})
const Output = Schema.Struct({ orderId: Schema.String, total: Schema.Number, lines: Schema.Int })

const work = (input: typeof Input.Type): typeof Output.Type => ({
  orderId: input.orderId,
  total: input.items.reduce((sum, item) => sum + item.quantity * item.price, 0),
  lines: input.items.length
})

const Quote = Component.make({ name: "quote", input: Input, output: Output })
const QuoteLive = Quote.toLayer((input) => Effect.succeed(work(input)))

const body = JSON.stringify({
  orderId: "o-1",
  items: Array.from({ length: 5 }, (_, i) => ({ sku: `sku-${i}`, quantity: i + 1, price: 9.99 }))
})

// --- the bare HttpApi handler ----------------------------------------------------------------------------

class BareApi extends HttpApi.make("bare").add(
  HttpApiGroup.make("quote").add(HttpApiEndpoint.post("quote", "/quote").setPayload(Input).addSuccess(Output))
) {}

const bareLayer = HttpApiBuilder.serve().pipe(
  Layer.provide(
    HttpApiBuilder.api(BareApi).pipe(
      Layer.provide(HttpApiBuilder.group(BareApi, "quote", (handlers) =>
        handlers.handle("quote", ({ payload }) => Effect.succeed(work(payload)))))
    )
  ),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

// --- ours ------------------------------------------------------------------------------------------------

const oursLayer = HttpServer.layer({ port: 0, host: "127.0.0.1" }).pipe(
  Layer.provide(Entrypoint.layer),
  Layer.provide(
    Registry.layer({
      services: { quote: { implementation: QuoteLive } },
      interceptors: {
        logging: { order: 1, config: { level: "Debug" } },
        metrics: { order: 2 },
        tracing: { order: 3 },
        validation: { order: 4 }
      }
    })
  ),
  Layer.provide(ServiceEvent.layer)
)

const start = async (layer: Layer.Layer<PlatformHttpServer.HttpServer, unknown>) => {
  const runtime = ManagedRuntime.make(layer)
  const server = await runtime.runPromise(PlatformHttpServer.HttpServer)
  const address = server.address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return { port: address.port, dispose: () => runtime.dispose() }
}

const load = async (url: string, seconds: number) => {
  const result = await autocannon({
    url,
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    connections: 32,
    pipelining: 1,
    duration: seconds
  })
  return { rps: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors }
}

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export const main = async (): Promise<void> => {
  const seconds = Number(process.env.BENCH_HTTP_SECONDS ?? 3)
  const rounds = Number(process.env.BENCH_HTTP_ROUNDS ?? 5)
  const bare = await start(bareLayer)
  const ours = await start(oursLayer)
  const bareUrl = `http://127.0.0.1:${bare.port}/quote`
  const oursUrl = `http://127.0.0.1:${ours.port}/services/quote`
  try {
    // warm-up both (JIT, connection pools)
    await load(bareUrl, 2)
    await load(oursUrl, 2)
    // alternate short rounds so a change of load on the machine hits both sides alike; report medians
    const baseline: Array<Awaited<ReturnType<typeof load>>> = []
    const candidate: Array<Awaited<ReturnType<typeof load>>> = []
    for (let round = 0; round < rounds; round++) {
      if (round % 2 === 0) {
        baseline.push(await load(bareUrl, seconds))
        candidate.push(await load(oursUrl, seconds))
      } else {
        candidate.push(await load(oursUrl, seconds))
        baseline.push(await load(bareUrl, seconds))
      }
    }
    for (const [name, results] of [["bare", baseline], ["ours", candidate]] as const) {
      const non2xx = results.reduce((n, r) => n + r.non2xx + r.errors, 0)
      if (non2xx > 0) process.stdout.write(`warning: ${name} had ${non2xx} non-2xx responses or errors\n`)
    }
    const bareRps = median(baseline.map((r) => r.rps))
    const oursRps = median(candidate.map((r) => r.rps))
    const ratio = oursRps / bareRps
    process.stdout.write(
      `POST /services/{name} (logging+validation+metrics+tracing) vs bare HttpApi, ${rounds}×${seconds}s alternating: ` +
        `baseline ${bareRps.toFixed(0)} req/s (p99 ${median(baseline.map((r) => r.p99))} ms), ` +
        `ours ${oursRps.toFixed(0)} req/s (p99 ${median(candidate.map((r) => r.p99))} ms), ratio ${ratio.toFixed(2)} ` +
        `(target ≥ 0.75) ${ratio >= 0.75 ? "✔" : "✘"}\n`
    )
  } finally {
    await ours.dispose()
    await bare.dispose()
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  void main()
}

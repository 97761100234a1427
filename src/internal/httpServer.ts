import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiSwagger from "@effect/platform/HttpApiSwagger"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as PlatformHttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as JSONSchema from "effect/JSONSchema"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import { createServer } from "node:http"
import type * as Component from "../Component.js"
import * as Entrypoint from "../Entrypoint.js"
import type * as Interceptor from "../Interceptor.js"
import {
  Api,
  GatewayTimeout,
  InternalError,
  PayloadInvalid,
  PayloadTooLarge,
  ServiceUnavailable,
  TooManyRequests
} from "../HttpServer.js"
import * as Registry from "../Registry.js"
import * as ServiceEvent from "../ServiceEvent.js"

// --- errors ----------------------------------------------------------------------------------------------

const tagOf = (u: unknown): string => (Predicate.hasProperty(u, "_tag") ? String(u._tag) : "")

/** Policy errors by tag, mapped to the HTTP errors of their status. */
type HttpExecuteError =
  | Exclude<Entrypoint.ExecuteError, Component.ComponentOutputInvalid | Interceptor.PolicyError>
  | InternalError
  | ServiceUnavailable
  | TooManyRequests
  | GatewayTimeout

const toHttpError = (service: string, error: Entrypoint.ExecuteError): Effect.Effect<never, HttpExecuteError> => {
  const tag = tagOf(error)
  switch (tag) {
    case "ComponentOutputInvalid":
      return Effect.zipRight(
        Effect.logError("service returned an invalid output").pipe(
          Effect.annotateLogs({ service, error: (error as Error).message })
        ),
        Effect.fail(new InternalError({ message: "Internal server error" }))
      )
    case "CircuitBreakerOpen":
      return Effect.fail(new ServiceUnavailable({ service, reason: "circuit open" }))
    case "RateLimitExceeded":
      return Effect.fail(new TooManyRequests({ service, reason: "rate limit exceeded" }))
    case "TimeoutExceeded":
      return Effect.fail(new GatewayTimeout({ service, reason: "timed out" }))
    default:
      return Effect.fail(error as Exclude<Entrypoint.ExecuteError, Component.ComponentOutputInvalid | Interceptor.PolicyError>)
  }
}

// --- JSON Schemas and OpenAPI ----------------------------------------------------------------------------

const schemaCache = new WeakMap<Component.AnySchema, unknown>()

const jsonSchemaOf = (schema: Component.AnySchema): unknown => {
  let found = schemaCache.get(schema)
  if (found === undefined) {
    try {
      found = JSONSchema.make(schema)
    } catch {
      found = {}
    }
    schemaCache.set(schema, found)
  }
  return found
}

const serviceInfo = (name: string, service: Registry.Service) => {
  const component = service.instance.component
  return {
    name,
    component: component.name,
    ...(component.description === undefined ? {} : { description: component.description }),
    interceptors: service.interceptors,
    input: jsonSchemaOf(component.input),
    output: jsonSchemaOf(component.output as Component.AnySchema)
  }
}

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: { type: "object" } } }
})

/** The API's OpenAPI document with one `POST /services/<name>` path per registered service. */
const openApiWithServices = (snapshot: Registry.Snapshot): Record<string, unknown> => {
  const spec = OpenApi.fromApi(Api) as unknown as { paths: Record<string, unknown> } & Record<string, unknown>
  const paths: Record<string, unknown> = { ...spec.paths }
  for (const [name, service] of snapshot.services) {
    const info = serviceInfo(name, service)
    paths[`/services/${encodeURIComponent(name)}`] = {
      post: {
        tags: ["registry"],
        operationId: `execute-${name}`,
        summary: info.description ?? `Executes ${name}`,
        requestBody: { required: true, content: { "application/json": { schema: info.input } } },
        responses: {
          "200": { description: "The encoded output", content: { "application/json": { schema: info.output } } },
          "400": errorResponse("Invalid payload"),
          "401": errorResponse("Missing or invalid credentials"),
          "403": errorResponse("Not allowed"),
          "413": errorResponse("Body over the limit"),
          "422": errorResponse("The handler's declared failure"),
          "429": errorResponse("Rate limited"),
          "500": errorResponse("Internal error"),
          "503": errorResponse("Circuit open"),
          "504": errorResponse("Timed out")
        }
      }
    }
  }
  return { ...spec, paths }
}

// --- Prometheus ------------------------------------------------------------------------------------------

// OpenTelemetry-style dotted names become Prometheus names the way @opentelemetry/exporter-prometheus
// turns them (dots and other invalid characters to `_`, counters suffixed `_total`), so the entrypoint's
// `/metrics` and the Telemetry layer's scrape endpoint show the same names.
const metricName = (name: string) =>
  name.replace(/[^a-zA-Z0-9_:]/g, "_").replace(/_{2,}/g, "_").replace(/^([^a-zA-Z_:])/, "_$1")
const counterName = (name: string) => (name.endsWith("_total") ? name : `${name}_total`)
const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")
const labels = (tags: ReadonlyArray<readonly [string, string]>) =>
  tags.length === 0 ? "" : `{${tags.map(([k, v]) => `${metricName(k)}="${escapeLabel(v)}"`).join(",")}}`
const num = (n: number) => (n === Infinity ? "+Inf" : n === -Infinity ? "-Inf" : Number.isNaN(n) ? "NaN" : String(n))

/** @internal */
export const renderPrometheus = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, { type: string; help: string | undefined; lines: Array<string> }>()
  const family = (name: string, type: string, help: string | undefined) => {
    let found = families.get(name)
    if (found === undefined) {
      found = { type, help, lines: [] }
      families.set(name, found)
    }
    return found
  }
  for (const pair of pairs) {
    const name = metricName(pair.metricKey.name)
    const help = Option.getOrUndefined(pair.metricKey.description)
    const tags = pair.metricKey.tags.map((tag) => [tag.key, tag.value] as const)
    const state = pair.metricState
    if (MetricState.isCounterState(state)) {
      const counter = counterName(name)
      family(counter, "counter", help).lines.push(`${counter}${labels(tags)} ${num(Number(state.count))}`)
    } else if (MetricState.isGaugeState(state)) {
      family(name, "gauge", help).lines.push(`${name}${labels(tags)} ${num(Number(state.value))}`)
    } else if (MetricState.isHistogramState(state)) {
      const lines = family(name, "histogram", help).lines
      let sawInf = false
      for (const [boundary, count] of state.buckets) {
        if (boundary === Infinity) sawInf = true
        lines.push(`${name}_bucket${labels([...tags, ["le", num(boundary)]])} ${count}`)
      }
      if (!sawInf) lines.push(`${name}_bucket${labels([...tags, ["le", "+Inf"]])} ${state.count}`)
      lines.push(`${name}_sum${labels(tags)} ${num(state.sum)}`)
      lines.push(`${name}_count${labels(tags)} ${state.count}`)
    } else if (MetricState.isFrequencyState(state)) {
      const counter = counterName(name)
      const lines = family(counter, "counter", help).lines
      for (const [key, count] of state.occurrences) lines.push(`${counter}${labels([...tags, ["key", key]])} ${count}`)
    } else if (MetricState.isSummaryState(state)) {
      const lines = family(name, "summary", help).lines
      for (const [quantile, value] of state.quantiles) {
        if (Option.isSome(value)) lines.push(`${name}${labels([...tags, ["quantile", num(quantile)]])} ${num(value.value)}`)
      }
      lines.push(`${name}_sum${labels(tags)} ${num(state.sum)}`)
      lines.push(`${name}_count${labels(tags)} ${state.count}`)
    }
  }
  let out = ""
  for (const [name, { help, lines, type }] of families) {
    if (help !== undefined) out += `# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}\n`
    out += `# TYPE ${name} ${type}\n${lines.join("\n")}\n`
  }
  return out
}

/** @internal */
export const prometheus: Effect.Effect<string> = Effect.map(Metric.snapshot, renderPrometheus)

// --- handlers --------------------------------------------------------------------------------------------

const readPayload = (
  request: { readonly headers: Readonly<Record<string, string | undefined>>; readonly text: Effect.Effect<string, unknown> },
  limit: number
): Effect.Effect<unknown, PayloadTooLarge | PayloadInvalid> => {
  const length = request.headers["content-length"]
  if (length !== undefined && Number(length) > limit) return Effect.fail(new PayloadTooLarge({ limit }))
  return request.text.pipe(
    HttpIncomingMessage.withMaxBodySize(Option.some(limit)),
    Effect.mapError(() => new PayloadTooLarge({ limit })),
    Effect.flatMap((text) => {
      if (text.trim() === "") return Effect.succeed(undefined)
      try {
        return Effect.succeed(JSON.parse(text) as unknown)
      } catch (error) {
        return Effect.fail(new PayloadInvalid({ reason: error instanceof Error ? error.message : String(error) }))
      }
    })
  )
}

const defectToInternal = (service: string) => (cause: Cause.Cause<unknown>): Effect.Effect<never, InternalError> =>
  Effect.zipRight(
    Effect.logError("service call died").pipe(Effect.annotateLogs({ service }), Effect.annotateLogs("cause", Cause.pretty(cause))),
    Effect.fail(new InternalError({ message: "Internal server error" }))
  )

const servicesLive = Layer.suspend(() =>
  HttpApiBuilder.group(Api, "services", (handlers) =>
  Effect.gen(function*() {
    const registry = yield* Registry.Registry
    const entrypoint = yield* Entrypoint.Entrypoint
    return handlers
      .handle("execute", ({ path, request }) =>
        readPayload(request, registry.snapshot().server.maxBodyBytes).pipe(
          Effect.flatMap((payload) =>
            Effect.catchAll(
              entrypoint.execute({ service: path.name, payload, metadata: request.headers }),
              (error) => toHttpError(path.name, error)
            )
          ),
          Effect.catchAllDefect((defect) => defectToInternal(path.name)(Cause.die(defect)))
        ))
      .handle("list", () =>
        Effect.sync(() => ({
          services: [...registry.snapshot().services].map(([name, service]) => serviceInfo(name, service))
        })))
  })))

const opsLive = Layer.suspend(() =>
  HttpApiBuilder.group(Api, "ops", (handlers) =>
  Effect.gen(function*() {
    const registry = yield* Registry.Registry
    return handlers
      .handle("health", () => Effect.succeed({ status: "ok" as const }))
      .handle("ready", () => {
        const snapshot = registry.snapshot()
        return Effect.succeed({
          status: "ready" as const,
          services: snapshot.services.size,
          generation: snapshot.generation
        })
      })
      .handle("metrics", () => prometheus)
  })))

const openApiRoute = Layer.unwrapEffect(Effect.map(Registry.Registry, (registry) =>
  HttpApiBuilder.Router.use((router) =>
    router.get(
      "/openapi.json",
      Effect.suspend(() => HttpServerResponse.json(openApiWithServices(registry.snapshot())))
    )
  )))

/** @internal */
export const layerApi = Layer.suspend(() => HttpApiBuilder.api(Api).pipe(Layer.provide([servicesLive, opsLive])))

// --- http.server.request.duration (OpenTelemetry HTTP semantic conventions) -------------------------------

/** @internal */
export const requestDuration = Metric.histogram(
  "http.server.request.duration",
  // the bucket boundaries the semantic conventions advise for this metric
  MetricBoundaries.fromIterable([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]),
  "Duration of HTTP server requests in seconds"
)

const fixedRoutes = new Set(["/services", "/health", "/ready", "/metrics", "/openapi.json", "/docs"])

/** The matched route template (low cardinality); undefined for paths no route serves. */
const routeOf = (url: string): string | undefined => {
  const query = url.indexOf("?")
  const path = query === -1 ? url : url.slice(0, query)
  if (fixedRoutes.has(path)) return path
  if (path.startsWith("/services/") && path.indexOf("/", 10) === -1) return "/services/:name"
  return undefined
}

const durationByKey = new Map<string, Metric.Metric.Histogram<number>>()
const durationFor = (method: string, route: string | undefined, status: number) => {
  const key = `${method} ${route ?? ""} ${status}`
  let found = durationByKey.get(key)
  if (found === undefined) {
    found = requestDuration.pipe(
      Metric.tagged("http.request.method", method),
      Metric.tagged("http.response.status_code", String(status))
    )
    if (route !== undefined) found = Metric.tagged(found, "http.route", route)
    durationByKey.set(key, found)
  }
  return found
}

const noTags: ReadonlyArray<never> = []

/** Records `http.server.request.duration` for every request the API answers. */
const withRequestDuration = (app: HttpApp.Default): HttpApp.Default =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    Effect.flatMap(Clock.currentTimeNanos, (start) =>
      Effect.onExit(app, (exit) =>
        Effect.map(Clock.currentTimeNanos, (end) => {
          const status = Exit.isSuccess(exit) ? exit.value.status : Cause.isInterruptedOnly(exit.cause) ? 499 : 500
          durationFor(request.method, routeOf(request.url), status).unsafeUpdate(Number(end - start) / 1e9, noTags)
        }))))

/** @internal */
export const layer = (options: { readonly port: number; readonly host?: string }) =>
  HttpApiBuilder.serve(withRequestDuration).pipe(
    Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
    Layer.provide(openApiRoute),
    Layer.provide(layerApi),
    Layer.provideMerge(
      NodeHttpServer.layer(createServer, options.host === undefined ? { port: options.port } : options)
    ),
    Layer.map((context) => context) // keep the platform HttpServer in the output
  ) as Layer.Layer<
    PlatformHttpServer.HttpServer,
    import("@effect/platform/HttpServerError").ServeError,
    Registry.Registry | Entrypoint.Entrypoint
  >

/** @internal */
export const layerFile = (file: string, options: {
  readonly port: number
  readonly host?: string
  readonly watch?: boolean
}) =>
  layer(options).pipe(
    Layer.provide(Entrypoint.layer),
    Layer.provideMerge(Registry.layerFile(file, { watch: options.watch ?? false })),
    Layer.provideMerge(ServiceEvent.layer)
  )

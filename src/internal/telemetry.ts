import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as Metrics from "@effect/opentelemetry/Metrics"
import * as OtlpMetrics from "@effect/opentelemetry/OtlpMetrics"
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as Resource from "@effect/opentelemetry/Resource"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import {
  type Context as OtelContext,
  TraceFlags
} from "@opentelemetry/api"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { OTLPTraceExporter as OTLPProtobufTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto"
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus"
import type { MetricReader } from "@opentelemetry/sdk-metrics"
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  type Span,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler
} from "@opentelemetry/sdk-trace-base"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as HashMap from "effect/HashMap"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as List from "effect/List"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Cause from "effect/Cause"
import * as Tracer from "effect/Tracer"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import type { Service } from "../Telemetry.js"
import * as LeafSpans_ from "./leafSpans.js"
import { LeafSpans } from "./operation.js"

// --- settings --------------------------------------------------------------------------------------------

/** @internal */
export const samplerNames = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio"
] as const

/** @internal */
export type SamplerName = typeof samplerNames[number]

/** The OTLP/HTTP encodings (`OTEL_EXPORTER_OTLP_PROTOCOL`); `grpc` is not supported. @internal */
export const protocols = ["http/json", "http/protobuf"] as const

/** @internal */
export type Protocol = typeof protocols[number]

/** Where and how one signal is sent over OTLP/HTTP. @internal */
export interface OtlpTarget {
  readonly url: string
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** `http/json` (default) or `http/protobuf` (smaller requests). */
  readonly protocol?: Protocol | undefined
}

/** @internal */
export interface Options {
  /** Turns every exporter off (`OTEL_SDK_DISABLED`). */
  readonly disabled?: boolean | undefined
  /** `service.name` of the resource (default `effect-loom`). */
  readonly serviceName?: string | undefined
  /** `service.version` of the resource. */
  readonly serviceVersion?: string | undefined
  /** Export spans over OTLP/HTTP to `url` through a batch span processor. */
  readonly traces?: OtlpTarget & {
    /** Per export, retries included (default 10 seconds). */
    readonly timeout?: Duration.DurationInput | undefined
  } | undefined
  /** Default `parentbased_always_on`. */
  readonly sampler?: SamplerName | undefined
  /** Ratio for the `traceidratio` samplers, in [0, 1] (default 1). */
  readonly samplerRatio?: number | undefined
  /** Serve `GET /metrics` in the Prometheus text format on `port` (0 picks a free port). */
  readonly prometheus?: { readonly port: number; readonly host?: string | undefined } | undefined
  /** Push every Effect metric over OTLP/HTTP to `url` every `interval` (default 60 seconds). */
  readonly otlpMetrics?: OtlpTarget & {
    readonly interval?: Duration.DurationInput | undefined
  } | undefined
  /** `json`: one JSON object per line with `trace_id` and `span_id`; default `json` when anything is exported. */
  readonly logFormat?: "json" | "default" | undefined
  /** Sets `Operation.LeafSpans`: a span per tree leaf (`true`) or groups only (`false`, default). */
  readonly leafSpans?: boolean | undefined
  /** How long release waits to flush spans and metrics (default 3 seconds). */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
}

const invalid = (name: string, message: string) => ConfigError.InvalidData([name], message)

const checkUrl = (name: string, value: string): Either.Either<string, ConfigError.ConfigError> => {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return Either.left(invalid(name, `Expected an http(s) URL but received ${JSON.stringify(value)}`))
  }
  return url.protocol === "http:" || url.protocol === "https:"
    ? Either.right(url.href)
    : Either.left(invalid(name, `Expected an http(s) URL but received ${JSON.stringify(value)}`))
}

const checkPort = (name: string, value: number): Either.Either<number, ConfigError.ConfigError> =>
  Number.isInteger(value) && value >= 0 && value <= 65535
    ? Either.right(value)
    : Either.left(invalid(name, `Expected a port number between 0 and 65535 but received ${value}`))

const checkProtocol = (name: string, value: string): Either.Either<Protocol, ConfigError.ConfigError> =>
  (protocols as ReadonlyArray<string>).includes(value)
    ? Either.right(value as Protocol)
    : Either.left(invalid(
      name,
      value === "grpc"
        ? "OTLP over gRPC is not supported; use http/protobuf or http/json"
        : `Expected one of (${protocols.join(", ")}) but received ${JSON.stringify(value)}`
    ))

const checkRatio = (name: string, value: number): Either.Either<number, ConfigError.ConfigError> =>
  Number.isFinite(value) && value >= 0 && value <= 1
    ? Either.right(value)
    : Either.left(invalid(name, `Expected a sampling ratio between 0 and 1 but received ${value}`))

/** `key1=value1,key2=value2` as in OTEL_EXPORTER_OTLP_HEADERS (values URL-encoded). */
const parseHeaders = (name: string, value: string): Either.Either<Record<string, string>, ConfigError.ConfigError> => {
  const headers: Record<string, string> = {}
  for (const part of value.split(",")) {
    if (part.trim() === "") continue
    const eq = part.indexOf("=")
    if (eq <= 0) return Either.left(invalid(name, `Expected key=value pairs separated by commas but received ${JSON.stringify(part)}`))
    try {
      headers[decodeURIComponent(part.slice(0, eq).trim())] = decodeURIComponent(part.slice(eq + 1).trim())
    } catch {
      return Either.left(invalid(name, `Malformed URL encoding in ${JSON.stringify(part)}`))
    }
  }
  return Either.right(headers)
}

const url = (name: string) => Config.string(name).pipe(Config.mapOrFail((s) => checkUrl(name, s)), Config.option)
const optional = <A>(config: Config.Config<A>) => Config.option(config)
const protocol = (name: string) =>
  Config.string(name).pipe(Config.mapOrFail((s) => checkProtocol(name, s)), Config.option)

/** Joins a base OTLP endpoint and a signal path the way the OTLP exporter specification says. */
const signalUrl = (base: string, path: string) => `${base.endsWith("/") ? base : `${base}/`}${path}`

/**
 * The settings read from the environment (see the module docs of `Telemetry`).
 *
 * @internal
 */
export const config: Config.Config<Options> = Config.all({
  disabled: Config.boolean("OTEL_SDK_DISABLED").pipe(Config.withDefault(false)),
  serviceName: optional(Config.string("OTEL_SERVICE_NAME")),
  serviceVersion: optional(Config.string("OTEL_SERVICE_VERSION")),
  endpoint: url("OTEL_EXPORTER_OTLP_ENDPOINT"),
  tracesEndpoint: url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
  metricsEndpoint: url("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
  protocol: protocol("OTEL_EXPORTER_OTLP_PROTOCOL"),
  tracesProtocol: protocol("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
  metricsProtocol: protocol("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"),
  headers: optional(
    Config.string("OTEL_EXPORTER_OTLP_HEADERS").pipe(
      Config.mapOrFail((s) => parseHeaders("OTEL_EXPORTER_OTLP_HEADERS", s))
    )
  ),
  timeout: optional(
    Config.integer("OTEL_EXPORTER_OTLP_TIMEOUT").pipe(
      Config.validate({ message: "Expected a positive number of milliseconds", validation: (n) => n > 0 })
    )
  ),
  sampler: optional(Config.literal(...samplerNames)("OTEL_TRACES_SAMPLER")),
  samplerArg: optional(
    Config.number("OTEL_TRACES_SAMPLER_ARG").pipe(Config.mapOrFail((n) => checkRatio("OTEL_TRACES_SAMPLER_ARG", n)))
  ),
  prometheusPort: optional(
    Config.integer("OTEL_EXPORTER_PROMETHEUS_PORT").pipe(
      Config.mapOrFail((n) => checkPort("OTEL_EXPORTER_PROMETHEUS_PORT", n))
    )
  ),
  prometheusHost: optional(Config.string("OTEL_EXPORTER_PROMETHEUS_HOST")),
  metricInterval: optional(
    Config.integer("OTEL_METRIC_EXPORT_INTERVAL").pipe(
      Config.validate({ message: "Expected a positive number of milliseconds", validation: (n) => n > 0 })
    )
  ),
  logFormat: optional(Config.literal("json", "default")("EFFECT_LOOM_LOG_FORMAT")),
  leafSpans: Config.boolean("EFFECT_LOOM_LEAF_SPANS").pipe(Config.withDefault(false))
}).pipe(Config.map((env): Options => {
  /** A signal's own endpoint and protocol win over the shared ones; headers are shared. */
  const target = (endpoint: Option.Option<string>, path: string, protocol: Option.Option<Protocol>) =>
    Option.map(
      Option.orElse(endpoint, () => Option.map(env.endpoint, (base) => signalUrl(base, path))),
      (url): OtlpTarget => ({
        url,
        headers: Option.getOrUndefined(env.headers),
        protocol: Option.getOrUndefined(Option.orElse(protocol, () => env.protocol))
      })
    )
  return {
    disabled: env.disabled,
    serviceName: Option.getOrUndefined(env.serviceName),
    serviceVersion: Option.getOrUndefined(env.serviceVersion),
    traces: Option.getOrUndefined(Option.map(target(env.tracesEndpoint, "v1/traces", env.tracesProtocol), (traces) => ({
      ...traces,
      timeout: Option.getOrUndefined(Option.map(env.timeout, Duration.millis))
    }))),
    sampler: Option.getOrUndefined(env.sampler),
    samplerRatio: Option.getOrUndefined(env.samplerArg),
    prometheus: Option.getOrUndefined(Option.map(env.prometheusPort, (port) => ({
      port,
      host: Option.getOrUndefined(env.prometheusHost)
    }))),
    otlpMetrics: Option.getOrUndefined(Option.map(target(env.metricsEndpoint, "v1/metrics", env.metricsProtocol), (metrics) => ({
      ...metrics,
      interval: Option.getOrUndefined(Option.map(env.metricInterval, Duration.millis))
    }))),
    logFormat: Option.getOrUndefined(env.logFormat),
    leafSpans: env.leafSpans
  }
}))

/** Checks programmatic options with the same rules as the environment, naming the option. */
const validate = (options: Options): Effect.Effect<Options, ConfigError.ConfigError> =>
  Effect.gen(function*() {
    if (options.traces !== undefined) yield* checkUrl("traces.url", options.traces.url)
    if (options.otlpMetrics !== undefined) yield* checkUrl("otlpMetrics.url", options.otlpMetrics.url)
    if (options.prometheus !== undefined) yield* checkPort("prometheus.port", options.prometheus.port)
    if (options.samplerRatio !== undefined) yield* checkRatio("samplerRatio", options.samplerRatio)
    if (options.traces?.protocol !== undefined) yield* checkProtocol("traces.protocol", options.traces.protocol)
    if (options.otlpMetrics?.protocol !== undefined) {
      yield* checkProtocol("otlpMetrics.protocol", options.otlpMetrics.protocol)
    }
    if (options.sampler !== undefined && !(samplerNames as ReadonlyArray<string>).includes(options.sampler)) {
      return yield* Effect.fail(invalid("sampler", `Expected one of (${samplerNames.join(", ")}) but received ${options.sampler}`))
    }
    return options
  })

const makeSampler = (name: SamplerName, ratio: number): Sampler => {
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler()
    case "always_off":
      return new AlwaysOffSampler()
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio)
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() })
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() })
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) })
  }
}

// --- dropped spans ---------------------------------------------------------------------------------------

/** @internal */
export const droppedSpansCounter = Metric.counter("effect_loom.telemetry.dropped_spans", {
  description: "Finished, sampled spans that never reached the collector (export failed or the queue was full)",
  incremental: true
})

const noTags: ReadonlyArray<never> = []

/**
 * Counts every sampled span handed to the batch processor and every span the exporter delivered or failed
 * to deliver. Failed exports count at once; spans the batch queue dropped (it was full) count at the next
 * flush, as `handed − delivered − failed`.
 */
class SpanAccounting {
  handed = 0
  delivered = 0
  failed = 0
  queueDropped = 0
  get dropped(): number {
    return this.failed + this.queueDropped
  }
  fail(n: number) {
    this.failed += n
    droppedSpansCounter.unsafeUpdate(n, noTags)
  }
  reconcile() {
    const lost = this.handed - this.delivered - this.failed - this.queueDropped
    if (lost > 0) {
      this.queueDropped += lost
      droppedSpansCounter.unsafeUpdate(lost, noTags)
    }
  }
}

type ExportCallback = Parameters<SpanExporter["export"]>[1]

/** Exports in flight at once (the OTLP exporter refuses more than 30). */
const exportConcurrency = 4
const exportSucceeded = 0 // ExportResultCode.SUCCESS in @opentelemetry/core

/**
 * Counts what the exporter delivered or failed to deliver, and holds exports beyond `concurrency` in a
 * queue. The batch processor's flush hands the exporter every batch in its queue at once, and the OTLP
 * exporter refuses exports beyond its own limit (30) as failures: with a queue raised for big bursts
 * (`OTEL_BSP_MAX_QUEUE_SIZE`), a flush lost most of its spans that way. Queued here, they are sent in turn.
 */
class CountingExporter implements SpanExporter {
  private inFlight = 0
  private readonly waiting: Array<() => void> = []
  constructor(readonly inner: SpanExporter, readonly accounting: SpanAccounting, readonly concurrency: number) {}
  export(spans: Array<ReadableSpan>, resultCallback: ExportCallback): void {
    if (this.inFlight >= this.concurrency) {
      this.waiting.push(() => this.export(spans, resultCallback))
      return
    }
    this.inFlight++
    this.inner.export(spans, (result) => {
      this.inFlight--
      if (result.code === exportSucceeded) this.accounting.delivered += spans.length
      else this.accounting.fail(spans.length)
      resultCallback(result)
      this.waiting.shift()?.()
    })
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown()
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve()
  }
}

class CountingProcessor implements SpanProcessor {
  constructor(readonly inner: SpanProcessor, readonly accounting: SpanAccounting) {}
  onStart(span: Span, parentContext: OtelContext): void {
    this.inner.onStart(span, parentContext)
  }
  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0) this.accounting.handed++
    this.inner.onEnd(span)
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush().then(() => this.accounting.reconcile())
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown().then(() => this.accounting.reconcile())
  }
}

/** The OTLP/HTTP span exporter for the configured encoding. */
const traceExporter = (traces: NonNullable<Options["traces"]>): SpanExporter => {
  const config = {
    url: traces.url,
    headers: { ...traces.headers },
    timeoutMillis: Duration.toMillis(traces.timeout ?? Duration.seconds(10))
  }
  return traces.protocol === "http/protobuf" ? new OTLPProtobufTraceExporter(config) : new OTLPTraceExporter(config)
}

// --- the service -----------------------------------------------------------------------------------------

/** @internal */
export class Telemetry extends Context.Tag("effect-loom/Telemetry")<Telemetry, Service>() {}

const disabledService: Service = {
  traces: false,
  metrics: false,
  prometheusUrl: Option.none(),
  droppedSpans: Effect.succeed(0),
  flush: Effect.void
}

// --- logs ------------------------------------------------------------------------------------------------

const toJson = (u: unknown): unknown =>
  u instanceof Error ? { name: u.name, message: u.message, ...(u.stack === undefined ? {} : { stack: u.stack }) } : u

/**
 * One JSON object per line: `timestamp`, `level`, `message`, `trace_id` and `span_id` of the span the fiber
 * is in (absent outside spans), `fiber_id`, `annotations`, `spans` (log spans, ms) and `cause` (pretty).
 *
 * @internal
 */
export const jsonLogger: Logger.Logger<unknown, string> = Logger.make((options) => {
  const record: Record<string, unknown> = {
    timestamp: options.date.toISOString(),
    level: options.logLevel.label
  }
  const message = Array.isArray(options.message) && options.message.length === 1 ? options.message[0] : options.message
  record.message = Array.isArray(message) ? message.map(toJson) : toJson(message)
  const span = Context.getOption(FiberRefs.getOrDefault(options.context, FiberRef.currentContext), Tracer.ParentSpan)
  if (Option.isSome(span)) {
    record.trace_id = span.value.traceId
    record.span_id = span.value.spanId
  }
  record.fiber_id = FiberId.threadName(options.fiberId)
  if (HashMap.size(options.annotations) > 0) {
    const annotations: Record<string, unknown> = {}
    for (const [key, value] of options.annotations) annotations[key] = toJson(value)
    record.annotations = annotations
  }
  if (List.isCons(options.spans)) {
    const now = options.date.getTime()
    const spans: Record<string, number> = {}
    for (const logSpan of options.spans) spans[logSpan.label] = now - logSpan.startTime
    record.spans = spans
  }
  if (!Cause.isEmpty(options.cause)) record.cause = Cause.pretty(options.cause, { renderErrorCause: true })
  return Inspectable.stringifyCircular(record)
})

/** @internal */
export const layerJsonLogger: Layer.Layer<never> = Logger.replace(Logger.defaultLogger, Logger.withConsoleLog(jsonLogger))

// --- layers ----------------------------------------------------------------------------------------------

/** Serves the Prometheus exporter's scrape handler; a port that cannot be bound is logged, never fatal. */
const servePrometheus = (exporter: PrometheusExporter, port: number, host: string | undefined) =>
  Effect.acquireRelease(
    Effect.async<Either.Either<Server, Error>>((resume) => {
      const server = createServer((request, response) => {
        if (request.url !== undefined && new URL(request.url, "http://localhost").pathname === "/metrics") {
          exporter.getMetricsRequestHandler(request, response)
        } else {
          response.statusCode = 404
          response.end()
        }
      })
      server.once("error", (error) => resume(Effect.succeed(Either.left(error))))
      server.listen(port, host, () => resume(Effect.succeed(Either.right(server))))
    }),
    (result) =>
      Either.isRight(result)
        ? Effect.async<void>((resume) => {
          result.right.close(() => resume(Effect.void))
          result.right.closeAllConnections()
        })
        : Effect.void
  ).pipe(
    Effect.flatMap((result) => {
      if (Either.isLeft(result)) {
        return Effect.as(
          Effect.logWarning("telemetry: the Prometheus endpoint could not start; metrics are not scraped").pipe(
            Effect.annotateLogs({ port, error: result.left.message })
          ),
          Option.none<string>()
        )
      }
      const address = result.right.address() as AddressInfo
      const shown = address.family === "IPv6" ? `[${address.address}]` : address.address
      return Effect.succeed(Option.some(`http://${shown}:${address.port}/metrics`))
    })
  )

/** @internal */
export const layerWith = (
  input: Options
): Layer.Layer<Telemetry | LeafSpans, ConfigError.ConfigError> =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const options = yield* validate(input)
    const leafSpans = Layer.succeed(LeafSpans, options.leafSpans ?? false)
    const traces = options.disabled === true ? undefined : options.traces
    const prometheus = options.disabled === true ? undefined : options.prometheus
    const otlpMetrics = options.disabled === true ? undefined : options.otlpMetrics
    const anything = traces !== undefined || prometheus !== undefined || otlpMetrics !== undefined
    const logFormat = options.logFormat ?? (anything ? "json" : "default")
    const logger = logFormat === "json" ? layerJsonLogger : Layer.empty
    if (!anything) return Layer.mergeAll(Layer.succeed(Telemetry, disabledService), leafSpans, logger)

    const serviceName = options.serviceName ?? "effect-loom"
    const shutdownTimeout = options.shutdownTimeout ?? Duration.seconds(3)
    const resource = options.serviceVersion === undefined ?
      { serviceName } :
      { serviceName, serviceVersion: options.serviceVersion }

    const accounting = new SpanAccounting()
    const processor = traces === undefined ? undefined : new CountingProcessor(
      new BatchSpanProcessor(
        new CountingExporter(
          traceExporter(traces),
          accounting,
          exportConcurrency
        )
      ),
      accounting
    )
    const reader = prometheus === undefined ? undefined : new PrometheusExporter({
      preventServerStart: true,
      withoutScopeInfo: true
    })
    const prometheusUrl = reader === undefined || prometheus === undefined ?
      Option.none<string>() :
      yield* servePrometheus(reader, prometheus.port, prometheus.host)

    const ResourceLive = Resource.layerFromEnv(Resource.configToAttributes(resource))
    const sampler = makeSampler(options.sampler ?? "parentbased_always_on", options.samplerRatio ?? 1)
    const TracerLive = processor === undefined ? Layer.empty : LeafSpans_.layerTracer(processor, sampler).pipe(
      Layer.provide(OtelTracer.layerTracer),
      Layer.provide(NodeSdk.layerTracerProvider(processor, { sampler, shutdownTimeout }))
    )
    // exporter-prometheus ships its own copy of sdk-metrics (2.12.0 vs 2.12.1): same runtime contract,
    // distinct private declarations, hence the cast
    const MetricsLive = reader === undefined ?
      Layer.empty :
      Metrics.layer(() => reader as unknown as MetricReader, { shutdownTimeout })
    const sdk = Layer.mergeAll(TracerLive, MetricsLive).pipe(Layer.provide(ResourceLive))
    const metricsOverOtlp = otlpMetrics === undefined ? Layer.empty : OtlpMetrics.layer({
      url: otlpMetrics.url,
      resource,
      headers: { ...otlpMetrics.headers },
      exportInterval: otlpMetrics.interval ?? Duration.seconds(60),
      shutdownTimeout
    }).pipe(
      Layer.provide(FetchHttpClient.layer),
      Layer.provide(otlpMetrics.protocol === "http/protobuf" ? OtlpSerialization.layerProtobuf : OtlpSerialization.layerJson)
    )

    const flush = processor === undefined ? Effect.void : Effect.promise(() => processor.forceFlush().catch(() => undefined)).pipe(
      Effect.timeoutOption(shutdownTimeout),
      Effect.asVoid
    )
    const service: Service = {
      traces: processor !== undefined,
      metrics: reader !== undefined || otlpMetrics !== undefined,
      prometheusUrl,
      droppedSpans: Effect.sync(() => accounting.dropped),
      flush
    }
    return Layer.mergeAll(sdk, metricsOverOtlp, Layer.succeed(Telemetry, service), leafSpans, logger)
  }))

/** @internal */
export const layer: Layer.Layer<Telemetry | LeafSpans, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(config, layerWith)
)

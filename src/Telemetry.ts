/**
 * Traces, metrics and logs through OpenTelemetry, configured from the environment.
 *
 * `Telemetry.layer` reads the standard OpenTelemetry variables through `Config`:
 *
 * | Variable | Meaning |
 * | --- | --- |
 * | `OTEL_SDK_DISABLED` | `true` turns every exporter off |
 * | `OTEL_SERVICE_NAME`, `OTEL_SERVICE_VERSION` | the resource's `service.name` (default `effect-loom`) and `service.version` |
 * | `OTEL_EXPORTER_OTLP_ENDPOINT` | base URL of an OTLP/HTTP collector: traces go to `<base>/v1/traces`, metrics to `<base>/v1/metrics` |
 * | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | full URL for traces (wins over the base) |
 * | `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` | full URL for metrics over OTLP (wins over the base) |
 * | `OTEL_EXPORTER_OTLP_HEADERS` | `key=value,key2=value2` sent with every export |
 * | `OTEL_EXPORTER_OTLP_PROTOCOL` | `http/json` (default) or `http/protobuf`, for traces and metrics; `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` and `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL` set one signal (`grpc` is not supported) |
 * | `OTEL_EXPORTER_OTLP_TIMEOUT` | milliseconds per span export, retries included (default 10000) |
 * | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | `always_on`, `always_off`, `traceidratio`, `parentbased_always_on` (default), `parentbased_always_off`, `parentbased_traceidratio`; the ratio in [0, 1] (default 1) |
 * | `OTEL_METRIC_EXPORT_INTERVAL` | milliseconds between OTLP metric exports (default 60000) |
 * | `OTEL_EXPORTER_PROMETHEUS_PORT`, `OTEL_EXPORTER_PROMETHEUS_HOST` | serve `GET /metrics` for Prometheus on this port (0 picks a free one) |
 * | `OTEL_BSP_*` | the batch span processor's queue size, batch size, delay and timeout |
 * | `EFFECT_LOOM_LOG_FORMAT` | `json` (default when anything is exported) or `default` (Effect's logger) |
 * | `EFFECT_LOOM_LEAF_SPANS` | `true` gives every operation-tree leaf a span; `false` (default) traces groups only |
 *
 * With none of them set the layer exports nothing and starts nothing: Effect's built-in tracer keeps
 * running as it always does, and nothing is sent anywhere. A malformed setting (an endpoint that is not
 * an http(s) URL, an unknown sampler, a ratio outside [0, 1], a bad port, an unknown protocol) fails the layer with a
 * `ConfigError` naming the variable. An unreachable collector never fails the program: failed exports
 * drop their spans and count them in `effect_loom.telemetry.dropped_spans`.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Logger from "effect/Logger"
import type * as Metric from "effect/Metric"
import type * as Option from "effect/Option"
import * as internal from "./internal/telemetry.js"
import type { LeafSpans } from "./internal/operation.js"

/**
 * The trace samplers of the OpenTelemetry specification's `OTEL_TRACES_SAMPLER`.
 *
 * @since 0.1.0
 * @category models
 */
export type SamplerName = internal.SamplerName

/**
 * Programmatic settings, the same as the environment variables. Nothing set means nothing exported.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends internal.Options {}

/**
 * What the telemetry layer set up, for programs and tests.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Spans are exported. */
  readonly traces: boolean
  /** Metrics are exported (Prometheus or OTLP). */
  readonly metrics: boolean
  /** Where Prometheus scrapes, when it is served. */
  readonly prometheusUrl: Option.Option<string>
  /** Spans lost so far: failed exports, and spans a full queue dropped (counted at each flush). */
  readonly droppedSpans: Effect.Effect<number>
  /** Exports every finished span now (bounded by the shutdown timeout); never fails. */
  readonly flush: Effect.Effect<void>
}

/**
 * The service the layer provides (see `Service`).
 *
 * @since 0.1.0
 * @category tags
 * @example
 * import { Telemetry } from "effect-loom"
 * import { Effect } from "effect"
 * const dropped = Effect.flatMap(Telemetry.Telemetry, (telemetry) => telemetry.droppedSpans)
 */
export const Telemetry: typeof internal.Telemetry = internal.Telemetry

/**
 * The identifier of the `Telemetry` tag.
 *
 * @since 0.1.0
 * @category tags
 */
export type Telemetry = internal.Telemetry

/**
 * The settings read from the environment variables listed in the module docs.
 *
 * @since 0.1.0
 * @category config
 * @example
 * import { Telemetry } from "effect-loom"
 * import { Effect } from "effect"
 * const show = Effect.map(Telemetry.config, (options) => options.traces?.url)
 */
export const config: Config.Config<Options> = internal.config

/**
 * Telemetry configured from the environment. Release flushes and shuts the exporters down.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * import { Telemetry } from "effect-loom"
 * import { Effect } from "effect"
 * // OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 OTEL_SERVICE_NAME=orders node main.js
 * const main = Effect.log("started").pipe(Effect.provide(Telemetry.layer))
 */
export const layer: Layer.Layer<Telemetry | LeafSpans, ConfigError.ConfigError> = internal.layer

/**
 * Telemetry from programmatic options (checked like the environment; a bad one fails with a
 * `ConfigError` naming the option).
 *
 * @since 0.1.0
 * @category layers
 * @example
 * import { Telemetry } from "effect-loom"
 * const live = Telemetry.layerWith({
 *   serviceName: "orders",
 *   traces: { url: "http://localhost:4318/v1/traces" },
 *   prometheus: { port: 9464 }
 * })
 */
export const layerWith: (options: Options) => Layer.Layer<Telemetry | LeafSpans, ConfigError.ConfigError> =
  internal.layerWith

/**
 * The JSON-lines logger (each line carries `trace_id` and `span_id` of the current span), as a layer
 * replacing Effect's default logger. `layer` installs it when anything is exported.
 *
 * @since 0.1.0
 * @category logging
 * @example
 * import { Telemetry } from "effect-loom"
 * import { Effect } from "effect"
 * const main = Effect.log("hello").pipe(Effect.withSpan("greet"), Effect.provide(Telemetry.layerJsonLogger))
 */
export const layerJsonLogger: Layer.Layer<never> = internal.layerJsonLogger

/**
 * The JSON logger itself, producing one line per entry.
 *
 * @since 0.1.0
 * @category logging
 * @example
 * import { Telemetry } from "effect-loom"
 * import { Logger } from "effect"
 * const toStderr = Logger.withConsoleError(Telemetry.jsonLogger)
 */
export const jsonLogger: Logger.Logger<unknown, string> = internal.jsonLogger

/**
 * Counter of spans that never reached the collector (`effect_loom.telemetry.dropped_spans`).
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * import { Telemetry } from "effect-loom"
 * import { Metric } from "effect"
 * const dropped = Metric.value(Telemetry.droppedSpansMetric)
 */
export const droppedSpansMetric: Metric.Metric.Counter<number> = internal.droppedSpansCounter

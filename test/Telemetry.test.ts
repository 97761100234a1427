import { describe, expect, it } from "@effect/vitest"
import { context, diag, DiagLogLevel, trace } from "@opentelemetry/api"
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks"
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import { makeBulkUpdate } from "../examples/bulk-update.js"
import { placeOrder } from "../examples/order-saga.js"
import * as Entrypoint from "../src/Entrypoint.js"
import { prometheus } from "../src/internal/httpServer.js"
import * as Operation from "../src/Operation.js"
import * as Telemetry from "../src/Telemetry.js"
import { closedPort, decodeProtobufTraces, otlpReceiver, parsePrometheus, type ReceivedSpan } from "./utils/otlpReceiver.js"
import { entrypointLayer } from "./utils/services.js"

// --- helpers ---------------------------------------------------------------------------------------------

/** Collects what Effect's console logger writes (the JSON logger writes through `Console.log`). */
const captureConsole = () => {
  const lines: Array<string> = []
  const push = (...args: ReadonlyArray<unknown>) => {
    lines.push(args.map(String).join(" "))
  }
  const console: Console.Console = {
    [Console.TypeId]: Console.TypeId,
    assert: () => Effect.void,
    clear: Effect.void,
    count: () => Effect.void,
    countReset: () => Effect.void,
    debug: (...args) => Effect.sync(() => push(...args)),
    dir: () => Effect.void,
    dirxml: () => Effect.void,
    error: (...args) => Effect.sync(() => push(...args)),
    group: () => Effect.void,
    groupEnd: Effect.void,
    info: (...args) => Effect.sync(() => push(...args)),
    log: (...args) => Effect.sync(() => push(...args)),
    table: () => Effect.void,
    time: () => Effect.void,
    timeEnd: () => Effect.void,
    timeLog: () => Effect.void,
    trace: () => Effect.void,
    warn: (...args) => Effect.sync(() => push(...args)),
    // loggers write through `unsafe` (Logger.withConsoleLog calls `Console.unsafe.log`)
    unsafe: { ...globalThis.console, log: push, info: push, warn: push, error: push, debug: push }
  }
  return { console, lines }
}

/** OpenTelemetry's own diagnostics (export errors and the like), captured for the duration of a test. */
const captureDiag = Effect.acquireRelease(
  Effect.sync(() => {
    const messages: Array<string> = []
    const record = (level: string) => (message: string, ...args: Array<unknown>) => {
      messages.push(`${level} ${message} ${args.map(String).join(" ")}`)
    }
    diag.setLogger({
      error: record("error"),
      warn: record("warn"),
      info: () => {},
      debug: () => {},
      verbose: () => {}
    }, DiagLogLevel.WARN)
    return messages
  }),
  () => Effect.sync(() => diag.disable())
)

const env = (entries: Record<string, string>) => ConfigProvider.fromMap(new Map(Object.entries(entries)))

const byName = (spans: ReadonlyArray<ReceivedSpan>, name: string): ReceivedSpan => {
  const found = spans.find((s) => s.name === name)
  if (found === undefined) throw new Error(`no span ${name} among ${spans.map((s) => s.name).join(", ")}`)
  return found
}

const parentName = (spans: ReadonlyArray<ReceivedSpan>, span: ReceivedSpan): string | undefined =>
  span.parentSpanId === undefined ? undefined : spans.find((s) => s.spanId === span.parentSpanId)?.name

const scrape = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, type: response.headers.get("content-type") ?? "", text: await response.text() }
  })

const sampleValue = (text: string, name: string, labels: Record<string, string>): number => {
  const { samples } = parsePrometheus(text)
  const found = samples.find((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  )
  return found?.value ?? 0
}

const bulkUpdate = (failing: ReadonlyArray<string> = []) =>
  Effect.flatMap(makeBulkUpdate({ pace: 0.02, failing }), (tree) => Operation.runReport(tree))

const orderSaga = placeOrder({ shippingWorks: false }, () => Effect.void)

// --- the receiver itself ---------------------------------------------------------------------------------

describe("test/utils/otlpReceiver", () => {
  it.scopedLive("decodes OTLP protobuf trace requests (as the proto exporters send them)", () =>
    Effect.gen(function*() {
      const receiver = yield* otlpReceiver
      const memory = new InMemorySpanExporter()
      const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] })
      const tracer = provider.getTracer("t")
      const parent = tracer.startSpan("parent")
      const child = tracer.startSpan(
        "child",
        { attributes: { "operation.path": "a/b", n: 3, ok: true } },
        trace.setSpan(context.active(), parent)
      )
      child.setStatus({ code: 2, message: "boom" })
      child.end()
      parent.end()
      const body = ProtobufTraceSerializer.serializeRequest(memory.getFinishedSpans())!
      const response = yield* Effect.promise(() =>
        fetch(`${receiver.url}/v1/traces`, {
          method: "POST",
          headers: { "content-type": "application/x-protobuf" },
          body
        })
      )
      expect(response.status).toBe(200)
      expect(receiver.errors).toEqual([])
      const received = byName(receiver.spans, "child")
      expect(received.attributes).toEqual({ "operation.path": "a/b", n: 3, ok: true })
      expect(received.status).toEqual({ code: 2, message: "boom" })
      expect(parentName(receiver.spans, received)).toBe("parent")
      expect(received.traceId).toBe(memory.getFinishedSpans()[0]!.spanContext().traceId)
      expect(decodeProtobufTraces(new Uint8Array())).toEqual([])
    }))
})

// --- spans -----------------------------------------------------------------------------------------------

describe("Telemetry", () => {
  it.scopedLive("bulk-update through the layer: the received span tree mirrors the operation tree", () =>
    Effect.gen(function*() {
      const receiver = yield* otlpReceiver
      const report = yield* bulkUpdate(["payment"]).pipe(
        Effect.provide(Telemetry.layerWith({ serviceName: "bulk", traces: { url: `${receiver.url}/v1/traces` }, leafSpans: true }))
      )
      expect(Exit.isFailure(report.exit)).toBe(true)
      // the layer's release flushed the batch processor
      expect(receiver.errors).toEqual([])
      const spans = receiver.spans
      const root = byName(spans, "bulk-update")
      expect(root.parentSpanId).toBeUndefined()
      expect(root.resource["service.name"]).toBe("bulk")
      expect(root.attributes["operation.path"]).toBe("bulk-update")
      for (const path of ["bulk-update/user-service", "bulk-update/inventory-service", "bulk-update/billing", "bulk-update/notifications"]) {
        const span = byName(spans, path)
        expect(parentName(spans, span)).toBe("bulk-update")
        expect(span.attributes["operation.path"]).toBe(path)
        expect(span.traceId).toBe(root.traceId)
      }
      for (const path of ["bulk-update/billing/invoice", "bulk-update/billing/payment"]) {
        expect(parentName(spans, byName(spans, path))).toBe("bulk-update/billing")
      }
      expect(byName(spans, "bulk-update/billing").attributes["operation.kind"]).toBe("sequence")
      expect(byName(spans, "bulk-update/user-service").attributes["operation.kind"]).toBe("leaf")
      // the failing payment and the groups it fails are errors; the others are not
      expect(byName(spans, "bulk-update/billing/payment").status.code).toBe(2)
      expect(byName(spans, "bulk-update/billing").status.code).toBe(2)
      expect(byName(spans, "bulk-update").status.code).toBe(2)
      expect(byName(spans, "bulk-update/user-service").status.code).not.toBe(2)
      expect(byName(spans, "bulk-update/billing/invoice").status.code).not.toBe(2)
    }))

  it.scopedLive("grouped (leaf spans off, the default): only group spans are exported", () =>
    Effect.gen(function*() {
      const receiver = yield* otlpReceiver
      const report = yield* bulkUpdate().pipe(
        Effect.provide(Telemetry.layerWith({ traces: { url: `${receiver.url}/v1/traces` } }))
      )
      expect(Exit.isSuccess(report.exit)).toBe(true)
      const names = new Set(receiver.spans.map((s) => s.name))
      expect(names).toContain("bulk-update")
      expect(names).toContain("bulk-update/billing")
      expect(names).not.toContain("bulk-update/user-service")
      expect(names).not.toContain("bulk-update/billing/invoice")
    }))

  it.scopedLive("order saga: forward steps and compensations are spans under the saga's span", () =>
    Effect.gen(function*() {
      const receiver = yield* otlpReceiver
      const outcome = yield* orderSaga.pipe(Effect.provide(Telemetry.layerWith({ traces: { url: `${receiver.url}/v1/traces` } })))
      expect(outcome.error?._tag).toBe("SagaFailed")
      const spans = receiver.spans
      const saga = byName(spans, "order.saga")
      expect(saga.attributes["saga.name"]).toBe("order")
      expect(saga.status.code).toBe(2)
      for (const step of ["reserve-inventory", "charge-payment", "ship"]) {
        const forward = byName(spans, `${step}.forward`)
        expect(parentName(spans, forward)).toBe("order.saga")
        expect(forward.attributes["saga.step"]).toBe(step)
        expect(forward.traceId).toBe(saga.traceId)
      }
      expect(byName(spans, "ship.forward").status.code).toBe(2)
      expect(byName(spans, "charge-payment.forward").status.code).not.toBe(2)
      for (const step of ["reserve-inventory", "charge-payment"]) {
        const compensate = byName(spans, `${step}.compensate`)
        expect(compensate.traceId).toBe(saga.traceId)
        expect(compensate.attributes["saga.step"]).toBe(step)
        expect(compensate.status.code).not.toBe(2)
      }
      expect(spans.some((s) => s.name === "ship.compensate")).toBe(false)
    }))

  it.scopedLive("with a global OpenTelemetry context manager, other OpenTelemetry instrumentation sees the current span", () =>
    Effect.gen(function*() {
      const receiver = yield* otlpReceiver
      const activeInside = Effect.gen(function*() {
        const span = yield* Effect.currentSpan
        return { effect: span.spanId, otel: trace.getActiveSpan()?.spanContext().spanId }
      }).pipe(Effect.withSpan("outer"), Effect.provide(Telemetry.layerWith({ traces: { url: `${receiver.url}/v1/traces` } })))
      // without a context manager there is nothing to propagate to
      const without = yield* activeInside
      expect(without.otel).toBeUndefined()
      yield* Effect.acquireRelease(
        Effect.sync(() => context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())),
        () => Effect.sync(() => context.disable())
      )
      const withManager = yield* activeInside
      expect(withManager.otel).toBe(withManager.effect)
    }))

  // --- metrics -------------------------------------------------------------------------------------------

  it.scopedLive("Prometheus: /metrics parses as Prometheus text with the saga and component-call counts", () =>
    Effect.gen(function*() {
      const program = Effect.gen(function*() {
        const telemetry = yield* Telemetry.Telemetry
        expect(telemetry.metrics).toBe(true)
        const url = Option.getOrThrow(telemetry.prometheusUrl)
        const before = (yield* scrape(url)).text
        yield* orderSaga
        yield* Entrypoint.execute({ service: "greet", payload: { name: "a" } })
        yield* Entrypoint.execute({ service: "greet", payload: { name: "b" } })
        yield* Effect.either(Entrypoint.execute({ service: "greet", payload: { name: "nobody" } }))
        const after = yield* scrape(url)
        return { before, after }
      })
      const { after, before } = yield* program.pipe(
        Effect.provide(entrypointLayer({ interceptors: { metrics: {} } })),
        Effect.provide(Telemetry.layerWith({ prometheus: { port: 0, host: "127.0.0.1" } }))
      )
      expect(after.status).toBe(200)
      expect(after.type).toContain("text/plain")
      const { types } = parsePrometheus(after.text) // throws on any malformed line
      const delta = (name: string, labels: Record<string, string>) =>
        sampleValue(after.text, name, labels) - sampleValue(before, name, labels)
      expect(types.get("effect_loom_saga_compensations_total")).toBe("counter")
      expect(delta("effect_loom_saga_compensations_total", { saga: "order", step: "charge-payment" })).toBe(1)
      expect(delta("effect_loom_saga_compensations_total", { saga: "order", step: "reserve-inventory" })).toBe(1)
      expect(delta("effect_loom_saga_compensations_total", { saga: "order", step: "ship" })).toBe(0)
      expect(delta("effect_loom_saga_compensation_failures_total", { saga: "order", step: "charge-payment" })).toBe(0)
      expect(types.get("effect_loom_saga_compensation_duration")).toBe("histogram")
      expect(delta("effect_loom_saga_compensation_duration_count", { saga: "order", step: "charge-payment" })).toBe(1)
      expect(delta("effect_loom_component_calls_total", { service: "greet" })).toBe(3)
      expect(delta("effect_loom_component_errors_total", { service: "greet" })).toBe(1)
      expect(delta("effect_loom_component_duration_count", { service: "greet" })).toBe(3)
    }))

  it.scopedLive("the entrypoint's own /metrics renderer uses the same Prometheus names", () =>
    Effect.gen(function*() {
      yield* orderSaga
      // the renderer behind HttpServer's GET /metrics, over the same registry
      const text = yield* prometheus
      const { types } = parsePrometheus(text)
      expect(types.get("effect_loom_saga_compensations_total")).toBe("counter")
      expect(types.get("effect_loom_saga_compensation_duration")).toBe("histogram")
      expect([...types.keys()].every((name) => !name.includes("."))).toBe(true)
    }))

  it.scopedLive("environment: one OTLP endpoint carries traces and metrics; the resource names the service", () =>
    Effect.gen(function*() {
      const receiver = yield* otlpReceiver
      yield* Effect.gen(function*() {
        const telemetry = yield* Telemetry.Telemetry
        expect(telemetry.traces).toBe(true)
        yield* orderSaga
        expect(yield* Operation.LeafSpans).toBe(true)
      }).pipe(
        Effect.provide(Telemetry.layer),
        Effect.withConfigProvider(env({
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_SERVICE_NAME: "orders",
          OTEL_TRACES_SAMPLER: "traceidratio",
          OTEL_TRACES_SAMPLER_ARG: "1",
          EFFECT_LOOM_LEAF_SPANS: "true"
        }))
      )
      expect(receiver.errors).toEqual([])
      expect(receiver.requests.map((r) => r.path)).toContain("/v1/traces")
      expect(byName(receiver.spans, "order.saga").resource["service.name"]).toBe("orders")
      // metrics are pushed over OTLP on release
      const compensations = receiver.metrics.find((m) => m.name === "effect_loom.saga.compensations")
      expect(compensations).toBeDefined()
      expect(compensations!.points.some((p) => p.attributes.saga === "order" && p.value >= 1)).toBe(true)
    }))

  it.scopedLive("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf: spans and metrics are sent as protobuf; a per-signal setting wins", () =>
    Effect.gen(function*() {
      const receiver = yield* otlpReceiver
      const run = (settings: Record<string, string>) =>
        Effect.gen(function*() {
          yield* orderSaga
        }).pipe(
          Effect.provide(Telemetry.layer),
          Effect.withConfigProvider(env({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, ...settings }))
        )
      const contentTypes = (path: string) => [...new Set(receiver.requests.filter((r) => r.path === path).map((r) => r.contentType))]
      yield* run({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" })
      expect(receiver.errors).toEqual([])
      expect(contentTypes("/v1/traces")).toEqual(["application/x-protobuf"])
      expect(contentTypes("/v1/metrics")).toEqual(["application/x-protobuf"])
      // the protobuf spans decode to the same tree
      const saga = byName(receiver.spans, "order.saga")
      expect(receiver.spans.filter((s) => s.parentSpanId === saga.spanId).length).toBeGreaterThan(0)
      receiver.requests.length = 0
      yield* run({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json" })
      expect(contentTypes("/v1/traces")).toEqual(["application/json"])
      expect(contentTypes("/v1/metrics")).toEqual(["application/x-protobuf"])
    }))

  it.scopedLive("the always_off sampler exports no spans, and the program runs as usual", () =>
    Effect.gen(function*() {
      const receiver = yield* otlpReceiver
      const outcome = yield* orderSaga.pipe(
        Effect.provide(Telemetry.layerWith({ traces: { url: `${receiver.url}/v1/traces` }, sampler: "always_off" }))
      )
      expect(outcome.error?._tag).toBe("SagaFailed")
      expect(receiver.spans).toEqual([])
    }))

  // --- logs ----------------------------------------------------------------------------------------------

  it.scopedLive("logs are JSON lines carrying the trace and span ids of exported spans", () =>
    Effect.gen(function*() {
      const receiver = yield* otlpReceiver
      const { console, lines } = captureConsole()
      yield* Effect.gen(function*() {
        yield* Effect.logInfo("checking out").pipe(Effect.annotateLogs({ order: "order-42" }), Effect.withSpan("checkout"))
        yield* orderSaga
        yield* Effect.logInfo("outside any span")
      }).pipe(
        Effect.provide(Telemetry.layerWith({ traces: { url: `${receiver.url}/v1/traces` } })),
        Effect.withConsole(console)
      )
      expect(lines.length).toBeGreaterThan(3)
      const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
      const checkout = records.find((r) => r.message === "checking out")!
      expect(checkout).toMatchObject({ level: "INFO", annotations: { order: "order-42" } })
      expect(typeof checkout.timestamp).toBe("string")
      const span = byName(receiver.spans, "checkout")
      expect(checkout.trace_id).toBe(span.traceId)
      expect(checkout.span_id).toBe(span.spanId)
      // the saga's compensation logs are inside its compensation spans
      const compensation = records.find((r) =>
        r.message === "compensation_started" && (r.annotations as Record<string, unknown>).step === "charge-payment"
      )!
      const compensateSpan = byName(receiver.spans, "charge-payment.compensate")
      expect(compensation.trace_id).toBe(compensateSpan.traceId)
      expect(compensation.span_id).toBe(compensateSpan.spanId)
      const outside = records.find((r) => r.message === "outside any span")!
      expect(outside.trace_id).toBeUndefined()
    }))

  // --- disabled --------------------------------------------------------------------------------------------

  it.scopedLive("disabled (OTEL_SDK_DISABLED, or nothing configured): nothing exported, no errors logged", () =>
    Effect.gen(function*() {
      const receiver = yield* otlpReceiver
      const diagnostics = yield* captureDiag
      const { console, lines } = captureConsole()
      const run = (entries: Record<string, string>) =>
        Effect.gen(function*() {
          const telemetry = yield* Telemetry.Telemetry
          yield* orderSaga
          yield* bulkUpdate()
          yield* telemetry.flush
          return { telemetry, dropped: yield* telemetry.droppedSpans }
        }).pipe(Effect.provide(Telemetry.layer), Effect.withConfigProvider(env(entries)), Effect.withConsole(console))
      const off = yield* run({ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, EFFECT_LOOM_LOG_FORMAT: "json" })
      expect(off.telemetry).toMatchObject({ traces: false, metrics: false })
      expect(Option.isNone(off.telemetry.prometheusUrl)).toBe(true)
      expect(off.dropped).toBe(0)
      const nothing = yield* run({ EFFECT_LOOM_LOG_FORMAT: "json" })
      expect(nothing.telemetry).toMatchObject({ traces: false, metrics: false })
      expect(receiver.requests).toEqual([])
      expect(diagnostics).toEqual([])
      const levels = lines.map((line) => (JSON.parse(line) as { level: string }).level)
      expect(levels.length).toBeGreaterThan(0) // the saga's compensation logs
      expect(levels.filter((level) => level === "ERROR" || level === "FATAL")).toEqual([])
    }))

  it.effect("with nothing configured the layer leaves Effect's default logger alone", () =>
    Effect.gen(function*() {
      const { console, lines } = captureConsole()
      yield* Effect.log("plain").pipe(
        Effect.provide(Telemetry.layer),
        Effect.withConfigProvider(env({})),
        Effect.withConsole(console)
      )
      // the default logger does not write through the Console service
      expect(lines).toEqual([])
    }))

  it.scopedLive("a Prometheus port already in use is logged once; the program runs without the endpoint", () =>
    Effect.gen(function*() {
      const busy = yield* otlpReceiver // something already listening on the port
      const port = Number(new URL(busy.url).port)
      const { console, lines } = captureConsole()
      const telemetry = yield* Telemetry.Telemetry.pipe(
        Effect.provide(Telemetry.layerWith({ prometheus: { port, host: "127.0.0.1" } })),
        Effect.provide(Telemetry.layerJsonLogger),
        Effect.withConsole(console)
      )
      expect(Option.isNone(telemetry.prometheusUrl)).toBe(true)
      const warnings = lines.map((line) => JSON.parse(line) as { level: string; annotations?: { port?: number } })
        .filter((record) => record.level === "WARN")
      expect(warnings).toHaveLength(1)
      expect(warnings[0]!.annotations?.port).toBe(port)
    }))

  // --- bad settings ----------------------------------------------------------------------------------------

  it.effect("a bad setting fails the layer with a ConfigError naming the variable", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
        [{ OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" }, "OTEL_EXPORTER_OTLP_ENDPOINT"],
        [{ OTEL_EXPORTER_OTLP_ENDPOINT: "localhost:4318" }, "OTEL_EXPORTER_OTLP_ENDPOINT"],
        [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "ftp://collector/v1/traces" }, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"],
        [{ OTEL_TRACES_SAMPLER: "sometimes" }, "OTEL_TRACES_SAMPLER"],
        [{ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "1.5" }, "OTEL_TRACES_SAMPLER_ARG"],
        [{ OTEL_TRACES_SAMPLER_ARG: "half" }, "OTEL_TRACES_SAMPLER_ARG"],
        [{ OTEL_EXPORTER_PROMETHEUS_PORT: "70000" }, "OTEL_EXPORTER_PROMETHEUS_PORT"],
        [{ OTEL_EXPORTER_PROMETHEUS_PORT: "ninety" }, "OTEL_EXPORTER_PROMETHEUS_PORT"],
        [{ OTEL_EXPORTER_OTLP_HEADERS: "novalue" }, "OTEL_EXPORTER_OTLP_HEADERS"],
        [{ OTEL_SDK_DISABLED: "perhaps" }, "OTEL_SDK_DISABLED"],
        [{ EFFECT_LOOM_LEAF_SPANS: "sometimes" }, "EFFECT_LOOM_LEAF_SPANS"],
        [{ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, "OTEL_EXPORTER_OTLP_PROTOCOL"],
        [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/xml" }, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"],
        [{ OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "protobuf" }, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"]
      ]
      for (const [entries, variable] of cases) {
        const exit = yield* Effect.exit(
          Effect.scoped(Layer.build(Telemetry.layer)).pipe(Effect.withConfigProvider(env(entries)))
        )
        expect(Exit.isFailure(exit), variable).toBe(true)
        if (Exit.isFailure(exit)) {
          const error = Cause.squash(exit.cause)
          expect(String(error), variable).toContain(variable)
          expect((error as { _op?: string })._op, variable).toBe("InvalidData")
        }
      }
      const programmatic = yield* Effect.exit(Effect.scoped(Layer.build(Telemetry.layerWith({ traces: { url: "nope" } }))))
      expect(Exit.isFailure(programmatic) && String(Cause.squash(programmatic.cause))).toContain("traces.url")
      const ratio = yield* Effect.exit(Effect.scoped(Layer.build(Telemetry.layerWith({ samplerRatio: -1 }))))
      expect(Exit.isFailure(ratio) && String(Cause.squash(ratio.cause))).toContain("samplerRatio")
    }))

  // --- a burst of spans --------------------------------------------------------------------------------------

  it.scopedLive("a burst of leaf spans with a queue raised to hold it: the flush delivers every span", () =>
    Effect.gen(function*() {
      const receiver = yield* otlpReceiver
      // 3,000 leaf spans in batches of 40: the flush has 75 batches to export, more than the OTLP exporter's
      // limit of 30 exports in flight, which used to fail the rest
      const names = ["OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_SCHEDULE_DELAY"] as const
      const saved = names.map((name) => process.env[name])
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          process.env.OTEL_BSP_MAX_QUEUE_SIZE = "10000"
          process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE = "40"
          process.env.OTEL_BSP_SCHEDULE_DELAY = "60000"
        }),
        () => Effect.sync(() => names.forEach((name, i) => saved[i] === undefined ? delete process.env[name] : process.env[name] = saved[i]))
      )
      const n = 3_000
      const tree = Operation.parallel("burst", Array.from({ length: n }, (_, i) => Operation.leaf(`l${i}`, Effect.void)), {
        concurrency: 16
      })
      const dropped = yield* Effect.gen(function*() {
        const telemetry = yield* Telemetry.Telemetry
        yield* Operation.run(tree)
        yield* telemetry.flush
        return yield* telemetry.droppedSpans
      }).pipe(Effect.provide(Telemetry.layerWith({ traces: { url: `${receiver.url}/v1/traces` }, leafSpans: true, logFormat: "default" })))
      expect(dropped).toBe(0)
      expect(receiver.errors).toEqual([])
      const leaves = receiver.spans.filter((span) => span.name.startsWith("burst/"))
      expect(leaves.length).toBe(n)
      expect(new Set(leaves.map((span) => span.name)).size).toBe(n)
      const root = byName(receiver.spans, "burst")
      expect(leaves.every((span) => span.parentSpanId === root.spanId)).toBe(true)
    }))

  // --- unreachable collector -------------------------------------------------------------------------------

  it.scopedLive("an unreachable collector: the program completes, spans are dropped and counted", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const diagnostics = yield* captureDiag
      const counterBefore = (yield* Metric.value(Telemetry.droppedSpansMetric)).count
      const { dropped, outcome } = yield* Effect.gen(function*() {
        const telemetry = yield* Telemetry.Telemetry
        const outcome = yield* orderSaga
        yield* telemetry.flush
        return { outcome, dropped: yield* telemetry.droppedSpans }
      }).pipe(
        Effect.provide(Telemetry.layerWith({ traces: { url: `http://127.0.0.1:${port}/v1/traces`, timeout: "300 millis" } }))
      )
      expect(outcome.error?._tag).toBe("SagaFailed")
      expect(outcome.journal).toContain("refunded charge ch-3 because: no courier available for order order-42")
      expect(dropped).toBeGreaterThan(0)
      expect((yield* Metric.value(Telemetry.droppedSpansMetric)).count - counterBefore).toBeGreaterThanOrEqual(dropped)
      expect(diagnostics.filter((d) => d.startsWith("error"))).toEqual([])
    }))
})

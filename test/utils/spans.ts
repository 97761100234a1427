import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Layer from "effect/Layer"

/** An OpenTelemetry tracer layer that keeps finished spans in memory, for assertions. */
export const inMemoryTracer = (): { readonly layer: Layer.Layer<never>; readonly spans: () => ReadonlyArray<ReadableSpan> } => {
  const exporter = new InMemorySpanExporter()
  const layer = Layer.discard(
    NodeSdk.layer(() => ({
      resource: { serviceName: "effect-loom-test" },
      spanProcessor: new SimpleSpanProcessor(exporter)
    }))
  )
  return { layer, spans: () => exporter.getFinishedSpans() }
}

/** The parent span's name for each span name (undefined for roots). */
export const parentNames = (spans: ReadonlyArray<ReadableSpan>): Map<string, string | undefined> => {
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s.name]))
  return new Map(spans.map((s) => [s.name, s.parentSpanContext ? byId.get(s.parentSpanContext.spanId) : undefined]))
}

/**
 * A small OTLP/HTTP receiver for tests: a `node:http` server on a loopback port that accepts
 * `POST /v1/traces` and `POST /v1/metrics` as OTLP/JSON (`application/json`, what the OTLP/HTTP exporters of
 * `@opentelemetry/exporter-trace-otlp-http` and `@effect/opentelemetry` send) or as OTLP protobuf
 * (`application/x-protobuf`), decoded with the field numbers of opentelemetry-proto's
 * `collector/trace/v1/trace_service.proto` and `trace/v1/trace.proto`.
 */
import * as Effect from "effect/Effect"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import { gunzipSync } from "node:zlib"

export interface ReceivedSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly name: string
  readonly kind: number
  /** 0 unset, 1 ok, 2 error */
  readonly status: { readonly code: number; readonly message: string | undefined }
  readonly attributes: Readonly<Record<string, unknown>>
  readonly resource: Readonly<Record<string, unknown>>
  readonly startTimeUnixNano: bigint
  readonly endTimeUnixNano: bigint
}

export interface ReceivedMetric {
  readonly name: string
  readonly points: ReadonlyArray<{ readonly attributes: Readonly<Record<string, unknown>>; readonly value: number }>
}

export interface OtlpReceiver {
  readonly url: string
  readonly spans: Array<ReceivedSpan>
  readonly metrics: Array<ReceivedMetric>
  readonly requests: Array<{ readonly path: string; readonly contentType: string }>
}

// --- OTLP/JSON -------------------------------------------------------------------------------------------

type Json = Record<string, unknown>
const asArray = (u: unknown): ReadonlyArray<Json> => (Array.isArray(u) ? (u as ReadonlyArray<Json>) : [])

const jsonValue = (value: Json | undefined): unknown => {
  if (value === undefined) return undefined
  if ("stringValue" in value) return value.stringValue
  if ("boolValue" in value) return value.boolValue
  if ("intValue" in value) return Number(value.intValue)
  if ("doubleValue" in value) return Number(value.doubleValue)
  if ("arrayValue" in value) return asArray((value.arrayValue as Json).values).map(jsonValue)
  if ("kvlistValue" in value) return jsonAttributes((value.kvlistValue as Json).values)
  if ("bytesValue" in value) return value.bytesValue
  return undefined
}

const jsonAttributes = (list: unknown): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const kv of asArray(list)) out[String(kv.key)] = jsonValue(kv.value as Json | undefined)
  return out
}

/** OTLP/JSON encodes ids as hex (the spec) — some encoders use base64; both become hex. */
const jsonId = (u: unknown): string | undefined => {
  if (typeof u !== "string" || u === "") return undefined
  return /^[0-9a-f]+$/i.test(u) && (u.length === 32 || u.length === 16) ? u.toLowerCase() : Buffer.from(u, "base64").toString("hex")
}

const decodeJsonTraces = (body: Json): Array<ReceivedSpan> =>
  asArray(body.resourceSpans).flatMap((rs) => {
    const resource = jsonAttributes((rs.resource as Json | undefined)?.attributes)
    return asArray(rs.scopeSpans).flatMap((ss) =>
      asArray(ss.spans).map((span): ReceivedSpan => {
        const status = (span.status ?? {}) as Json
        return {
          traceId: jsonId(span.traceId) ?? "",
          spanId: jsonId(span.spanId) ?? "",
          parentSpanId: jsonId(span.parentSpanId),
          name: String(span.name),
          kind: Number(span.kind ?? 0),
          status: { code: Number(status.code ?? 0), message: typeof status.message === "string" ? status.message : undefined },
          attributes: jsonAttributes(span.attributes),
          resource,
          startTimeUnixNano: BigInt(String(span.startTimeUnixNano ?? 0)),
          endTimeUnixNano: BigInt(String(span.endTimeUnixNano ?? 0))
        }
      })
    )
  })

const decodeJsonMetrics = (body: Json): Array<ReceivedMetric> =>
  asArray(body.resourceMetrics).flatMap((rm) =>
    asArray(rm.scopeMetrics).flatMap((sm) =>
      asArray(sm.metrics).map((metric): ReceivedMetric => {
        const data = (metric.sum ?? metric.gauge ?? metric.histogram ?? metric.summary ?? {}) as Json
        return {
          name: String(metric.name),
          points: asArray(data.dataPoints).map((point) => ({
            attributes: jsonAttributes(point.attributes),
            value: Number(point.asDouble ?? point.asInt ?? point.count ?? 0)
          }))
        }
      })
    )
  )

// --- OTLP protobuf ---------------------------------------------------------------------------------------

/** A reader of the protobuf wire format: varints, fixed 32/64-bit and length-delimited fields. */
class Wire {
  pos = 0
  constructor(readonly buf: Uint8Array) {}
  get done() {
    return this.pos >= this.buf.length
  }
  varint(): bigint {
    let result = 0n
    let shift = 0n
    for (;;) {
      const byte = this.buf[this.pos++]
      if (byte === undefined) throw new Error("truncated varint")
      result |= BigInt(byte & 0x7f) << shift
      if ((byte & 0x80) === 0) return result
      shift += 7n
    }
  }
  bytes(): Uint8Array {
    const length = Number(this.varint())
    const out = this.buf.subarray(this.pos, this.pos + length)
    this.pos += length
    return out
  }
  fixed64(): DataView {
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8)
    this.pos += 8
    return view
  }
  /** Calls `field` for every field of the message; unknown fields are skipped by returning false. */
  fields(field: (number: number, wireType: number) => boolean): void {
    while (!this.done) {
      const tag = Number(this.varint())
      const number = tag >>> 3
      const wireType = tag & 7
      if (field(number, wireType)) continue
      if (wireType === 0) this.varint()
      else if (wireType === 1) this.pos += 8
      else if (wireType === 2) this.bytes()
      else if (wireType === 5) this.pos += 4
      else throw new Error(`unsupported wire type ${wireType}`)
    }
  }
}

const text = new TextDecoder()
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")

// AnyValue: 1 string, 2 bool, 3 int, 4 double, 5 array (ArrayValue.values = 1), 6 kvlist (KeyValueList.values = 1), 7 bytes
const protoValue = (buf: Uint8Array): unknown => {
  let value: unknown
  const wire = new Wire(buf)
  wire.fields((n) => {
    if (n === 1) value = text.decode(wire.bytes())
    else if (n === 2) value = wire.varint() !== 0n
    else if (n === 3) value = Number(BigInt.asIntN(64, wire.varint()))
    else if (n === 4) value = wire.fixed64().getFloat64(0, true)
    else if (n === 5) {
      const items: Array<unknown> = []
      const array = new Wire(wire.bytes())
      array.fields((m) => (m === 1 ? (items.push(protoValue(array.bytes())), true) : false))
      value = items
    } else if (n === 6) {
      const list = new Wire(wire.bytes())
      const out: Record<string, unknown> = {}
      list.fields((m) => (m === 1 ? (Object.assign(out, protoKeyValue(list.bytes())), true) : false))
      value = out
    } else if (n === 7) value = hex(wire.bytes())
    else return false
    return true
  })
  return value
}

// KeyValue: 1 key, 2 value
const protoKeyValue = (buf: Uint8Array): Record<string, unknown> => {
  let key = ""
  let value: unknown
  const wire = new Wire(buf)
  wire.fields((n) => {
    if (n === 1) key = text.decode(wire.bytes())
    else if (n === 2) value = protoValue(wire.bytes())
    else return false
    return true
  })
  return { [key]: value }
}

// Resource: 1 attributes
const protoResource = (buf: Uint8Array): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  const wire = new Wire(buf)
  wire.fields((n) => (n === 1 ? (Object.assign(out, protoKeyValue(wire.bytes())), true) : false))
  return out
}

// Span: 1 trace_id, 2 span_id, 4 parent_span_id, 5 name, 6 kind, 7 start fixed64, 8 end fixed64,
// 9 attributes, 15 status (Status: 2 message, 3 code)
const protoSpan = (buf: Uint8Array, resource: Record<string, unknown>): ReceivedSpan => {
  let traceId = ""
  let spanId = ""
  let parentSpanId: string | undefined
  let name = ""
  let kind = 0
  let start = 0n
  let end = 0n
  const attributes: Record<string, unknown> = {}
  const status = { code: 0, message: undefined as string | undefined }
  const wire = new Wire(buf)
  wire.fields((n) => {
    if (n === 1) traceId = hex(wire.bytes())
    else if (n === 2) spanId = hex(wire.bytes())
    else if (n === 4) {
      const parent = wire.bytes()
      parentSpanId = parent.length === 0 ? undefined : hex(parent)
    } else if (n === 5) name = text.decode(wire.bytes())
    else if (n === 6) kind = Number(wire.varint())
    else if (n === 7) start = wire.fixed64().getBigUint64(0, true)
    else if (n === 8) end = wire.fixed64().getBigUint64(0, true)
    else if (n === 9) Object.assign(attributes, protoKeyValue(wire.bytes()))
    else if (n === 15) {
      const s = new Wire(wire.bytes())
      s.fields((m) => {
        if (m === 2) status.message = text.decode(s.bytes())
        else if (m === 3) status.code = Number(s.varint())
        else return false
        return true
      })
    } else return false
    return true
  })
  return { traceId, spanId, parentSpanId, name, kind, status, attributes, resource, startTimeUnixNano: start, endTimeUnixNano: end }
}

/** ExportTraceServiceRequest: 1 resource_spans (ResourceSpans: 1 resource, 2 scope_spans (ScopeSpans: 2 spans)). */
export const decodeProtobufTraces = (buf: Uint8Array): Array<ReceivedSpan> => {
  const spans: Array<ReceivedSpan> = []
  const request = new Wire(buf)
  request.fields((n) => {
    if (n !== 1) return false
    const rs = new Wire(request.bytes())
    let resource: Record<string, unknown> = {}
    const scopes: Array<Uint8Array> = []
    rs.fields((m) => {
      if (m === 1) resource = protoResource(rs.bytes())
      else if (m === 2) scopes.push(rs.bytes())
      else return false
      return true
    })
    for (const scope of scopes) {
      const ss = new Wire(scope)
      ss.fields((m) => (m === 2 ? (spans.push(protoSpan(ss.bytes(), resource)), true) : false))
    }
    return true
  })
  return spans
}

// --- the server ------------------------------------------------------------------------------------------

const readBody = (request: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => resolve(Buffer.concat(chunks)))
    request.on("error", reject)
  })

/** Starts a receiver on a free loopback port for the scope; decoding failures answer 400 and are recorded. */
export const otlpReceiver = Effect.acquireRelease(
  Effect.async<OtlpReceiver & { readonly close: () => Promise<void>; readonly errors: Array<string> }>((resume) => {
    const spans: Array<ReceivedSpan> = []
    const metrics: Array<ReceivedMetric> = []
    const requests: Array<{ path: string; contentType: string }> = []
    const errors: Array<string> = []
    const server = createServer((request, response) => {
      readBody(request).then((raw) => {
        const path = request.url ?? ""
        const contentType = request.headers["content-type"] ?? ""
        requests.push({ path, contentType })
        const body = request.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw
        try {
          if (contentType.startsWith("application/x-protobuf")) {
            // protobuf metrics are accepted (and listed in `requests`) but not decoded
            if (path === "/v1/traces") spans.push(...decodeProtobufTraces(body))
            else if (path !== "/v1/metrics") throw new Error(`unexpected path ${path}`)
            response.writeHead(200, { "content-type": "application/x-protobuf" }).end()
          } else {
            const json = JSON.parse(body.toString("utf8")) as Json
            if (path === "/v1/traces") spans.push(...decodeJsonTraces(json))
            else if (path === "/v1/metrics") metrics.push(...decodeJsonMetrics(json))
            else throw new Error(`unexpected path ${path}`)
            response.writeHead(200, { "content-type": "application/json" }).end("{}")
          }
        } catch (error) {
          errors.push(String(error))
          response.writeHead(400).end()
        }
      }, () => response.writeHead(500).end())
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({
        url: `http://127.0.0.1:${port}`,
        spans,
        metrics,
        requests,
        errors,
        close: () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve())
            server.closeAllConnections()
          })
      }))
    })
  }),
  (receiver) => Effect.promise(() => receiver.close())
)

/** A loopback port with nothing listening on it: bound once, then closed. */
export const closedPort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Parses Prometheus text exposition into samples: name, labels and value. */
export const parsePrometheus = (body: string) => {
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = []
  const types = new Map<string, string>()
  for (const line of body.split("\n")) {
    if (line.startsWith("# TYPE ")) {
      const [name, type] = line.slice(7).split(" ")
      if (name !== undefined && type !== undefined) types.set(name, type)
      continue
    }
    if (line === "" || line.startsWith("#")) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( \d+)?$/.exec(line)
    if (match === null) throw new Error(`not a Prometheus sample line: ${line}`)
    const labels: Record<string, string> = {}
    const labelText = match[3] ?? ""
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)",?/g
    let consumed = 0
    for (let m = labelRe.exec(labelText); m !== null; m = labelRe.exec(labelText)) {
      labels[m[1]!] = m[2]!.replace(/\\n/g, "\n").replace(/\\"/g, "\"").replace(/\\\\/g, "\\")
      consumed += m[0].length
    }
    if (consumed !== labelText.length) throw new Error(`malformed labels: ${line}`)
    const raw = match[4]!
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw)
    if (Number.isNaN(value) && raw !== "NaN") throw new Error(`malformed value: ${line}`)
    samples.push({ name: match[1]!, labels, value })
  }
  return { samples, types }
}

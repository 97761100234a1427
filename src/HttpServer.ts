/**
 * The HTTP entrypoint, built with `@effect/platform`'s `HttpApi`:
 *
 * | route | |
 * |---|---|
 * | `POST /services/{name}` | executes a service with the JSON body as payload |
 * | `GET /services` | lists services with their input and output JSON Schemas |
 * | `GET /health`, `GET /ready` | liveness; readiness (registry loaded) |
 * | `GET /metrics` | Prometheus text |
 * | `GET /openapi.json`, `GET /docs` | OpenAPI document (one path per service) and its docs page |
 *
 * Errors map to status codes: 400 invalid payload, 401/403 auth, 404 unknown service, 413 body too large,
 * 422 the handler's declared failure, 429 rate limited, 503 circuit open, 504 timeout, 500 defects
 * (without stack traces).
 *
 * @since 0.1.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import type * as PlatformHttpServer from "@effect/platform/HttpServer"
import type { ServeError } from "@effect/platform/HttpServerError"
import type * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Component from "./Component.js"
import type * as Entrypoint from "./Entrypoint.js"
import * as Interceptor from "./Interceptor.js"
import * as internal from "./internal/httpServer.js"
import * as Registry from "./Registry.js"
import type * as ServiceEvent from "./ServiceEvent.js"

/**
 * The body is not JSON (HTTP 400).
 *
 * @since 0.1.0
 * @category errors
 */
export class PayloadInvalid extends Schema.TaggedError<PayloadInvalid>("effect-loom/HttpServer/PayloadInvalid")(
  "PayloadInvalid",
  { reason: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {
  override get message(): string {
    return `Expected a JSON body: ${this.reason}`
  }
}

/**
 * The body is over the configured limit (HTTP 413).
 *
 * @since 0.1.0
 * @category errors
 */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>("effect-loom/HttpServer/PayloadTooLarge")(
  "PayloadTooLarge",
  { limit: Schema.Number },
  HttpApiSchema.annotations({ status: 413 })
) {
  override get message(): string {
    return `The body is over the limit of ${this.limit} bytes`
  }
}

/**
 * A rate limit refused the call (HTTP 429).
 *
 * @since 0.1.0
 * @category errors
 */
export class TooManyRequests extends Schema.TaggedError<TooManyRequests>("effect-loom/HttpServer/TooManyRequests")(
  "TooManyRequests",
  { service: Schema.String, reason: Schema.String },
  HttpApiSchema.annotations({ status: 429 })
) {}

/**
 * The service's circuit is open (HTTP 503).
 *
 * @since 0.1.0
 * @category errors
 */
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>(
  "effect-loom/HttpServer/ServiceUnavailable"
)("ServiceUnavailable", { service: Schema.String, reason: Schema.String }, HttpApiSchema.annotations({ status: 503 })) {}

/**
 * The call timed out (HTTP 504).
 *
 * @since 0.1.0
 * @category errors
 */
export class GatewayTimeout extends Schema.TaggedError<GatewayTimeout>("effect-loom/HttpServer/GatewayTimeout")(
  "GatewayTimeout",
  { service: Schema.String, reason: Schema.String },
  HttpApiSchema.annotations({ status: 504 })
) {}

/**
 * A defect or an output that breaks its schema (HTTP 500). Details are logged, never sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class InternalError extends Schema.TaggedError<InternalError>("effect-loom/HttpServer/InternalError")(
  "InternalError",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 500 })
) {}

/**
 * A service as listed by `GET /services`.
 *
 * @since 0.1.0
 * @category models
 */
export const ServiceInfo = Schema.Struct({
  name: Schema.String,
  component: Schema.String,
  description: Schema.optional(Schema.String),
  interceptors: Schema.Array(Schema.String),
  input: Schema.Unknown,
  output: Schema.Unknown
})

/**
 * The API definition.
 *
 * @since 0.1.0
 * @category api
 */
export class ServicesApi extends HttpApiGroup.make("services")
  .add(
    HttpApiEndpoint.post("execute", "/services/:name")
      .setPath(Schema.Struct({ name: Schema.String }))
      .addSuccess(Schema.Unknown)
      .addError(PayloadInvalid)
      .addError(Component.ComponentInputInvalid, { status: 400 })
      .addError(Interceptor.InterceptorRejected, { status: 400 })
      .addError(Interceptor.AuthenticationFailed, { status: 401 })
      .addError(Interceptor.AuthorizationDenied, { status: 403 })
      .addError(Registry.ComponentNotFound, { status: 404 })
      .addError(PayloadTooLarge)
      .addError(Component.ComponentFailed, { status: 422 })
      .addError(TooManyRequests)
      .addError(InternalError)
      .addError(ServiceUnavailable)
      .addError(GatewayTimeout)
  )
  .add(HttpApiEndpoint.get("list", "/services").addSuccess(Schema.Struct({ services: Schema.Array(ServiceInfo) })))
{}

/**
 * Health, readiness and metrics.
 *
 * @since 0.1.0
 * @category api
 */
export class OpsApi extends HttpApiGroup.make("ops")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Schema.Struct({ status: Schema.Literal("ok") })))
  .add(
    HttpApiEndpoint.get("ready", "/ready")
      .addSuccess(Schema.Struct({ status: Schema.Literal("ready"), services: Schema.Number, generation: Schema.Number }))
      .addError(ServiceUnavailable)
  )
  .add(
    HttpApiEndpoint.get("metrics", "/metrics").addSuccess(
      HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" })
    )
  )
{}

/**
 * @since 0.1.0
 * @category api
 */
export class Api extends HttpApi.make("effect-loom").add(ServicesApi).add(OpsApi) {}

/**
 * The HTTP server on a port (0 picks a free one): the API, `/openapi.json` and `/docs`, over the
 * entrypoint and registry in context. The platform's `HttpServer` is in the output, for its address.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * import { Entrypoint, HttpServer, Registry, ServiceEvent } from "effect-loom"
 * import { Layer } from "effect"
 *
 * const live = HttpServer.layer({ port: 8080 }).pipe(
 *   Layer.provide(Entrypoint.layer),
 *   Layer.provideMerge(Registry.layerFile("services.json", { watch: true })),
 *   Layer.provide(ServiceEvent.layer)
 * )
 */
export const layer = (options: {
  readonly port: number
  readonly host?: string
}): Layer.Layer<
  PlatformHttpServer.HttpServer,
  ServeError,
  Registry.Registry | Entrypoint.Entrypoint
> => internal.layer(options)

/**
 * Everything `effect-loom serve` runs: the server over a `services.json` file.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * import { HttpServer } from "effect-loom"
 * const live = HttpServer.layerFile("examples/registry/services.json", { port: 8080, watch: true })
 */
export const layerFile = (file: string, options: {
  readonly port: number
  readonly host?: string
  readonly watch?: boolean
}): Layer.Layer<
  PlatformHttpServer.HttpServer | Registry.Registry | ServiceEvent.ServiceEventBus,
  ServeError | Registry.RegistryError
> => internal.layerFile(file, options)

/**
 * Renders every Effect metric of the process in the Prometheus text format.
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * import { HttpServer } from "effect-loom"
 * import { Effect } from "effect"
 * const text = Effect.runSync(HttpServer.prometheus)
 */
export const prometheus = internal.prometheus

/**
 * The `effect-loom` command line, built with `@effect/cli`:
 *
 * - `effect-loom serve <services.json> [--port 8080] [--host 0.0.0.0] [--watch]` starts the HTTP server;
 * - `effect-loom validate <services.json>` checks a config, printing each error with its file and JSON
 *   path; exit code 1 when it is invalid.
 *
 * Subcommands: `serve`, `validate` and `workflows` (see `WorkflowCli`).
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as PlatformHttpServer from "@effect/platform/HttpServer"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as HttpServer from "./HttpServer.js"
import * as Registry from "./Registry.js"
import * as ServiceEvent from "./ServiceEvent.js"
import * as WorkflowCli from "./WorkflowCli.js"

/**
 * A command failed after printing why; the program exits with code 1.
 *
 * @since 0.1.0
 * @category errors
 */
export class CliCommandFailed extends Data.TaggedError("CliCommandFailed")<{
  readonly command: string
  readonly reason: string
}> {
  override get message(): string {
    return `effect-loom ${this.command}: ${this.reason}`
  }
}

const configArg = Args.text({ name: "services.json" }).pipe(
  Args.withDescription("Path to the registry config file")
)

const printAndFail = (command: string) => (error: { readonly message: string }) =>
  Effect.zipRight(Console.error(error.message), Effect.fail(new CliCommandFailed({ command, reason: error.message })))

/**
 * `serve <services.json> [--port] [--host] [--watch]`.
 *
 * @since 0.1.0
 * @category commands
 * @example
 * import { Cli } from "effect-loom"
 * const serve = Cli.serve
 */
export const serve = Command.make(
  "serve",
  {
    config: configArg,
    port: Options.integer("port").pipe(Options.withAlias("p"), Options.withDefault(8080)),
    host: Options.text("host").pipe(Options.withDefault("0.0.0.0")),
    watch: Options.boolean("watch").pipe(Options.withDescription("Reload the registry when the file changes"))
  },
  ({ config, host, port, watch }) =>
    Effect.gen(function*() {
      if (port < 0 || port > 65535) {
        return yield* printAndFail("serve")({ message: `--port: expected 0..65535, got ${port}` })
      }
      yield* Layer.launch(
        HttpServer.layerFile(config, { port, host, watch }).pipe(PlatformHttpServer.withLogAddress)
      ).pipe(Effect.catchAll(printAndFail("serve")))
    })
).pipe(Command.withDescription("Serve the registry's services over HTTP"))

/**
 * `validate <services.json>`: loads the config (modules, exports, component and interceptor configs) and
 * prints every error, or a summary when it is valid.
 *
 * @since 0.1.0
 * @category commands
 * @example
 * import { Cli } from "effect-loom"
 * const validate = Cli.validate
 */
export const validate = Command.make("validate", { config: configArg }, ({ config }) =>
  Registry.load(config).pipe(
    Effect.flatMap((snapshot) =>
      Console.log(
        `${config}: ok, ${snapshot.services.size} services (${[...snapshot.services.keys()].join(", ")})`
      )
    ),
    Effect.scoped,
    Effect.provide(ServiceEvent.layer),
    Effect.catchAll(printAndFail("validate"))
  )).pipe(Command.withDescription("Check a registry config file"))

/**
 * The root `effect-loom` command: `serve`, `validate` and `workflows …`.
 *
 * @since 0.1.0
 * @category commands
 * @example
 * import { Cli } from "effect-loom"
 * const root = Cli.command
 */
export const command = Command.make("effect-loom").pipe(
  Command.withDescription("effect-loom: serve and validate service registries, inspect durable workflows"),
  Command.withSubcommands([serve, validate, WorkflowCli.workflows])
)

/**
 * Runs a root command built with `make` (e.g. with more subcommands) on `process.argv`-shaped arguments.
 *
 * @since 0.1.0
 * @category running
 * @example
 * import { Cli } from "effect-loom"
 * const run = Cli.runWith(Cli.command)
 */
export const runWith = <R, E, A>(root: Command.Command<"effect-loom", R, E, A>) =>
  Command.run(root, { name: "effect-loom", version: "0.1.0" })

/**
 * Runs the root command on `process.argv`-shaped arguments.
 *
 * @since 0.1.0
 * @category running
 * @example
 * import { Cli } from "effect-loom"
 * const program = Cli.run(["node", "effect-loom", "validate", "services.json"])
 */
export const run = runWith(command)

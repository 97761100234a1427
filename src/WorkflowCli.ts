/**
 * `effect-loom workflows …`: inspect and steer durable workflows stored in a SQLite file, also while no
 * worker runs (signals and cancel requests are stored and picked up by the next worker).
 *
 * - `workflows list [--name N] [--status S]… [--since DATE] [--until DATE] [--json] [--db FILE]`
 * - `workflows show <id>` — the stored record with its payload and result
 * - `workflows history <id>` — the decoded journal of the latest run (`<id>#<run>` for an earlier run
 *   that continued as new)
 * - `workflows signal <id> <event> <json>` — deliver an external event
 * - `workflows cancel <id> [--reason R]` — cancel, running compensations
 * - `workflows terminate <id> [--reason R]` — stop without compensation
 * - `workflows purge --older-than DURATION [--status S]…` — delete runs that ended before now minus
 *   DURATION (`7 days`, `12 hours`, or short `7d`, `12h`, `30m`), with their journals
 *
 * `--db` defaults to `effect-loom.db` in the working directory.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as SqlWorkflowStorage from "./SqlWorkflowStorage.js"
import * as WorkflowEngine from "./WorkflowEngine.js"
import type { WorkflowRecord, WorkflowStatus } from "./WorkflowStorage.js"
import { WorkflowStatus as WorkflowStatusSchema } from "./WorkflowStorage.js"
import { continuedAs, endedStatuses } from "./WorkflowStorage.js"

/**
 * A command-line argument could not be used (for instance a signal payload that is not JSON).
 *
 * @since 0.1.0
 * @category errors
 * @example
 * import { WorkflowCli } from "effect-loom"
 * console.log(new WorkflowCli.WorkflowCliInputInvalid({ argument: "json", detail: "Unexpected token" }).message)
 */
export class WorkflowCliInputInvalid extends Data.TaggedError("WorkflowCliInputInvalid")<{
  readonly argument: string
  readonly detail: string
}> {
  override get message(): string {
    return `Invalid ${this.argument}: ${this.detail}`
  }
}

const db = Options.file("db").pipe(
  Options.withDefault("effect-loom.db"),
  Options.withDescription("The SQLite file of the workflow store")
)
const id = Args.text({ name: "id" }).pipe(Args.withDescription("Workflow id"))
const reason = Options.text("reason").pipe(Options.withDefault("requested from the command line"))

/** Runs `f` with an engine (no workflow registered: a client) on the SQLite file. */
const withEngine = <A, E extends { readonly message: string }>(
  file: string,
  f: (engine: WorkflowEngine.WorkflowEngineService) => Effect.Effect<A, E>
) =>
  Effect.flatMap(WorkflowEngine.WorkflowEngine, f).pipe(
    Effect.provide(WorkflowEngine.layerClient().pipe(Layer.provide(SqlWorkflowStorage.layerSqlite({ filename: file })))),
    Effect.tapError((error) => Console.error(error.message))
  )

const parseJson = (text: string | undefined): string => text ?? "null"
const decoded = (json: string | null): unknown => {
  if (json === null) return null
  try {
    return JSON.parse(json)
  } catch {
    return json
  }
}

const waitingText = (r: WorkflowRecord) =>
  r.status === "continued"
    ? ` (as run ${r.run + 1} of ${continuedAs(r)?.workflowId ?? r.id})`
    : r.waiting === null
    ? ""
    : r.waiting._tag === "Timer"
    ? ` (timer ${r.waiting.step} until ${new Date(r.waiting.until).toISOString()})`
    : ` (event ${r.waiting.event})`

const statuses: ReadonlyArray<WorkflowStatus> = WorkflowStatusSchema.literals

/**
 * `workflows list`.
 *
 * @since 0.1.0
 * @category commands
 * @example
 * import { WorkflowCli } from "effect-loom"
 * const list = WorkflowCli.list
 */
export const list = Command.make(
  "list",
  {
    db,
    name: Options.text("name").pipe(Options.optional),
    status: Options.choice("status", statuses).pipe(Options.repeated),
    since: Options.date("since").pipe(Options.optional, Options.withDescription("Created at or after (ISO date)")),
    until: Options.date("until").pipe(Options.optional, Options.withDescription("Created before (ISO date)")),
    json: Options.boolean("json")
  },
  ({ db, json, name, since, status, until }) =>
    withEngine(db, (e) =>
      Effect.gen(function*() {
        const records = yield* e.list({
          ...(Option.isSome(name) ? { name: name.value } : {}),
          ...(status.length > 0 ? { status } : {}),
          ...(Option.isSome(since) ? { createdAfter: since.value.getTime() } : {}),
          ...(Option.isSome(until) ? { createdBefore: until.value.getTime() } : {})
        })
        if (json) return yield* Console.log(JSON.stringify(records, null, 2))
        if (records.length === 0) return yield* Console.log("no workflows")
        for (const r of records) {
          yield* Console.log(
            `${r.id}\t${r.name}\t${r.status}${waitingText(r)}\trun ${r.run}\t${new Date(r.updatedAt).toISOString()}`
          )
        }
      }))
).pipe(Command.withDescription("List workflows (filter by --name, --status, --since, --until)"))

/**
 * `workflows show <id>`.
 *
 * @since 0.1.0
 * @category commands
 * @example
 * import { WorkflowCli } from "effect-loom"
 * const show = WorkflowCli.show
 */
export const show = Command.make("show", { db, id }, ({ db, id }) =>
  withEngine(db, (e) =>
    Effect.flatMap(e.status(id), (r) =>
      Console.log(JSON.stringify({ ...r, payload: decoded(r.payload), result: decoded(r.result) }, null, 2))))
).pipe(Command.withDescription("Show a workflow's status, payload and result"))

/**
 * `workflows history <id>`.
 *
 * @since 0.1.0
 * @category commands
 * @example
 * import { WorkflowCli } from "effect-loom"
 * const history = WorkflowCli.history
 */
export const history = Command.make("history", { db, id, json: Options.boolean("json") }, ({ db, id, json }) =>
  withEngine(db, (e) =>
    Effect.gen(function*() {
      const entries = yield* e.history(id)
      if (json) return yield* Console.log(JSON.stringify(entries, null, 2))
      if (entries.length === 0) return yield* Console.log("no journal entries")
      for (const h of entries) {
        yield* Console.log(
          `${h.seq}\t${new Date(h.at).toISOString()}\t${h.step}\t${h.kind}\t${h.name}\t${JSON.stringify(h.outcome)}`
        )
      }
    }))
).pipe(Command.withDescription("Print the journal of a workflow's latest run (<id>#<run> for an earlier run)"))

/**
 * `workflows signal <id> <event> <json>`.
 *
 * @since 0.1.0
 * @category commands
 * @example
 * import { WorkflowCli } from "effect-loom"
 * const signal = WorkflowCli.signal
 */
export const signal = Command.make(
  "signal",
  { db, id, event: Args.text({ name: "event" }), json: Args.text({ name: "json" }).pipe(Args.optional) },
  ({ db, event, id, json }) =>
    Effect.gen(function*() {
      const text = parseJson(Option.getOrUndefined(json))
      const payload = yield* Effect.try({
        try: () => JSON.parse(text) as unknown,
        catch: (e) => new WorkflowCliInputInvalid({ argument: "json", detail: String(e) })
      }).pipe(Effect.tapError((error) => Console.error(error.message)))
      yield* withEngine(db, (e) => e.signal(id, event, payload))
      yield* Console.log(`delivered ${event} to ${id}`)
    })
).pipe(Command.withDescription("Deliver an event (JSON payload) to a workflow"))

/**
 * `workflows cancel <id> [--reason R]`.
 *
 * @since 0.1.0
 * @category commands
 * @example
 * import { WorkflowCli } from "effect-loom"
 * const cancel = WorkflowCli.cancel
 */
export const cancel = Command.make("cancel", { db, id, reason }, ({ db, id, reason }) =>
  Effect.zipRight(
    withEngine(db, (e) => e.cancel(id, reason)),
    Console.log(`cancel requested for ${id}: compensations run in the worker`)
  )).pipe(Command.withDescription("Cancel a workflow (its compensations run)"))

/**
 * `workflows terminate <id> [--reason R]`.
 *
 * @since 0.1.0
 * @category commands
 * @example
 * import { WorkflowCli } from "effect-loom"
 * const terminate = WorkflowCli.terminate
 */
export const terminate = Command.make("terminate", { db, id, reason }, ({ db, id, reason }) =>
  Effect.zipRight(withEngine(db, (e) => e.terminate(id, reason)), Console.log(`terminated ${id}`))).pipe(
    Command.withDescription("Stop a workflow at once, without compensation")
  )

const SHORT_UNITS: Record<string, string> = { ms: "millis", s: "seconds", m: "minutes", h: "hours", d: "days", w: "weeks" }

/**
 * Parses a non-negative duration: Effect's `"7 days"` / `"12 hours"` forms, or the short `7d`, `12h`,
 * `30m`, `90s`, `500ms`, `2w`.
 *
 * @since 0.1.0
 * @category parsing
 * @example
 * import { Duration, Effect } from "effect"
 * import { WorkflowCli } from "effect-loom"
 * const week = Effect.map(WorkflowCli.parseDuration("7d"), Duration.toMillis) // 604800000
 */
export const parseDuration = (text: string): Effect.Effect<Duration.Duration, WorkflowCliInputInvalid> => {
  const trimmed = text.trim()
  const short = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/.exec(trimmed)
  const decoded = Duration.decodeUnknown(short === null ? trimmed : `${short[1]} ${SHORT_UNITS[short[2]!]}`)
  return Option.isSome(decoded) && Duration.isFinite(decoded.value)
    ? Effect.succeed(decoded.value)
    : Effect.fail(
      new WorkflowCliInputInvalid({
        argument: "older-than",
        detail: `${JSON.stringify(text)} is not a duration (e.g. "7 days", "12 hours", "7d", "30m")`
      })
    )
}

/**
 * `workflows purge --older-than DURATION [--status S]…`: retention. Deletes the runs that ended
 * (completed, failed, cancelled, terminated, continued; `--status` narrows it) before now minus
 * DURATION, with their journals and events. Active workflows are never deleted.
 *
 * @since 0.1.0
 * @category commands
 * @example
 * import { WorkflowCli } from "effect-loom"
 * const purge = WorkflowCli.purge
 */
export const purge = Command.make(
  "purge",
  {
    db,
    olderThan: Options.text("older-than").pipe(
      Options.withDescription("Delete runs that ended longer ago than this (e.g. \"30 days\", 12h)")
    ),
    status: Options.choice("status", endedStatuses).pipe(Options.repeated)
  },
  ({ db, olderThan, status }) =>
    Effect.gen(function*() {
      const age = yield* parseDuration(olderThan).pipe(Effect.tapError((error) => Console.error(error.message)))
      const endedBefore = (yield* Clock.currentTimeMillis) - Duration.toMillis(age)
      const purged = yield* withEngine(db, (e) => e.purge({ endedBefore, ...(status.length > 0 ? { statuses: status } : {}) }))
      yield* Console.log(`purged ${purged} run${purged === 1 ? "" : "s"} that ended before ${new Date(endedBefore).toISOString()}`)
    })
).pipe(Command.withDescription("Delete ended runs older than --older-than, with their journals"))

/**
 * The `workflows` command with its subcommands; add it to the program's subcommands.
 *
 * @since 0.1.0
 * @category commands
 * @example
 * import { WorkflowCli } from "effect-loom"
 * const command = WorkflowCli.workflows
 */
export const workflows = Command.make("workflows").pipe(
  Command.withDescription("Inspect and steer durable workflows in a SQLite store"),
  Command.withSubcommands([list, show, history, signal, cancel, terminate, purge])
)

import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type {
  Delivery,
  JournalEntry,
  ListFilter,
  WorkflowRecord,
  WorkflowStorage,
  WorkflowStorageService,
  WorkflowUpdate
} from "../WorkflowStorage.js"

/** @internal */
export const runRecordId = (id: string, run: number): string => `${id}#${run}`

/** The `result` of a run that continued as new: a `ContinuedAs` pointer to the next run. @internal */
export const continuedResult = (id: string, run: number): string =>
  JSON.stringify({ _tag: "ContinuedAs", workflowId: id, run: run + 1 })

const active = (r: WorkflowRecord) => r.status === "pending" || r.status === "running" || r.status === "waiting"

interface StoredEvent {
  readonly seq: number
  readonly workflowId: string
  readonly name: string
  readonly payload: string
  consumed: boolean
}

/** @internal */
export const applyUpdate = (r: WorkflowRecord, u: WorkflowUpdate): WorkflowRecord => ({
  ...r,
  ...(u.status !== undefined ? { status: u.status } : {}),
  ...(u.waiting !== undefined ? { waiting: u.waiting } : {}),
  ...(u.result !== undefined ? { result: u.result } : {}),
  ...(u.reason !== undefined ? { reason: u.reason } : {}),
  ...(u.cancelRequested !== undefined ? { cancelRequested: u.cancelRequested } : {}),
  updatedAt: u.updatedAt
})

/** @internal */
export const makeMemory = (): WorkflowStorageService => {
  const workflows = new Map<string, WorkflowRecord>()
  const journals = new Map<string, Map<string, JournalEntry>>()
  const events: Array<StoredEvent> = []
  let eventSeq = 0
  const journalOf = (id: string, run: number) => {
    const k = `${id}\u0000${run}`
    let j = journals.get(k)
    if (j === undefined) {
      j = new Map()
      journals.set(k, j)
    }
    return j
  }
  const deliver = (id: string, f: (r: WorkflowRecord) => void): Delivery => {
    const r = workflows.get(id)
    if (r === undefined) return { _tag: "NotFound" }
    if (!active(r)) return { _tag: "NotActive", status: r.status }
    f(r)
    return { _tag: "Delivered" }
  }
  return {
    create: (record) =>
      Effect.sync(() => {
        const existing = workflows.get(record.id)
        if (existing !== undefined) return existing
        workflows.set(record.id, record)
        return undefined
      }),
    get: (id) => Effect.sync(() => workflows.get(id)),
    list: (filter: ListFilter) =>
      Effect.sync(() => {
        const out = [...workflows.values()].filter((r) =>
          (filter.name === undefined || r.name === filter.name) &&
          (filter.status === undefined || filter.status.includes(r.status)) &&
          (filter.createdAfter === undefined || r.createdAt >= filter.createdAfter) &&
          (filter.createdBefore === undefined || r.createdAt < filter.createdBefore)
        ).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        return filter.limit === undefined ? out : out.slice(0, filter.limit)
      }),
    journal: (id, run) => Effect.sync(() => [...journalOf(id, run).values()].sort((a, b) => a.seq - b.seq)),
    append: (entries, update) =>
      Effect.sync(() => {
        for (const e of entries) {
          const j = journalOf(e.workflowId, e.run)
          if (!j.has(e.key)) j.set(e.key, e)
        }
        const first = entries[0]
        if (update !== undefined && first !== undefined) {
          const r = workflows.get(first.workflowId)
          if (r !== undefined && active(r)) workflows.set(r.id, applyUpdate(r, update))
        }
      }),
    update: (id, update) =>
      Effect.sync(() => {
        const r = workflows.get(id)
        if (r === undefined || !active(r)) return false
        workflows.set(id, applyUpdate(r, update))
        return true
      }),
    continueAsNew: (id, run, payload, now) =>
      Effect.sync(() => {
        const r = workflows.get(id)
        if (r === undefined || r.run !== run) return
        const archiveId = runRecordId(id, run)
        if (!workflows.has(archiveId)) {
          workflows.set(archiveId, {
            ...r,
            id: archiveId,
            status: "continued",
            waiting: null,
            result: continuedResult(id, run),
            updatedAt: now
          })
        }
        workflows.set(id, { ...r, run: run + 1, payload, status: "running", waiting: null, createdAt: now, updatedAt: now })
      }),
    sendEvent: (id, name, payload) =>
      Effect.sync(() =>
        deliver(id, () => {
          events.push({ seq: ++eventSeq, workflowId: id, name, payload, consumed: false })
        })
      ),
    consumeEvent: (id, name, accept, entry) =>
      Effect.sync(() => {
        for (const e of events) {
          if (e.consumed || e.workflowId !== id || e.name !== name) continue
          e.consumed = true
          if (!accept(e.payload)) continue
          const je = entry(e.payload)
          const j = journalOf(je.workflowId, je.run)
          if (!j.has(je.key)) j.set(je.key, je)
          return e.payload
        }
        return undefined
      }),
    withPendingEvents: Effect.sync(() => {
      const ids = new Set<string>()
      for (const e of events) {
        const r = workflows.get(e.workflowId)
        if (!e.consumed && r !== undefined && active(r)) ids.add(e.workflowId)
      }
      return [...ids]
    }),
    requestCancel: (id, reason, now) =>
      Effect.sync(() =>
        deliver(id, (r) => {
          workflows.set(id, { ...r, cancelRequested: true, reason, updatedAt: now })
        })
      ),
    terminate: (id, reason, now) =>
      Effect.sync(() =>
        deliver(id, (r) => {
          workflows.set(id, { ...r, status: "terminated", waiting: null, reason, updatedAt: now })
        })
      )
  }
}

/** @internal */
export const layerMemory = (tag: Context.Tag<WorkflowStorage, WorkflowStorageService>): Layer.Layer<WorkflowStorage> =>
  Layer.sync(tag, makeMemory)

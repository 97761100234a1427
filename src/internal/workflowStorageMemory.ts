import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import type {
  Delivery,
  JournalEntry,
  ListFilter,
  PurgeFilter,
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

/** Where a `continued` record's journal is stored: under the workflow's own id. @internal */
export const journalOwner = (r: WorkflowRecord): string => {
  if (r.status !== "continued" || r.result === null) return r.id
  try {
    const pointer = JSON.parse(r.result) as { readonly workflowId?: unknown }
    return typeof pointer.workflowId === "string" ? pointer.workflowId : r.id
  } catch {
    return r.id
  }
}

/** @internal */
export const ENDED = ["completed", "failed", "cancelled", "terminated", "continued"] as const

/** Whether an ended record is selected by a purge filter. @internal */
export const purgeable = (r: WorkflowRecord, filter: PurgeFilter): boolean =>
  !active(r) && r.updatedAt < filter.endedBefore && (filter.statuses ?? ENDED).includes(r.status)

/**
 * Wakes in-process waiters (the engines' poll loops) when a write that a worker must pick up happened.
 *
 * @internal
 */
export const makeChangeSignal = () => {
  let current = Deferred.unsafeMake<void>(FiberId.none)
  return {
    notify: (): void => {
      const fired = current
      current = Deferred.unsafeMake<void>(FiberId.none)
      Deferred.unsafeDone(fired, Exit.void)
    },
    subscribe: Effect.sync(() => Deferred.await(current))
  }
}

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
  let events: Array<StoredEvent> = []
  let eventSeq = 0
  const change = makeChangeSignal()
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
    change.notify()
    return { _tag: "Delivered" }
  }
  return {
    create: (record) =>
      Effect.sync(() => {
        const existing = workflows.get(record.id)
        if (existing !== undefined) return existing
        workflows.set(record.id, record)
        if (record.status === "pending") change.notify()
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
      ),
    purge: (filter) =>
      Effect.sync(() => {
        const purged = new Set<string>()
        let n = 0
        for (const r of workflows.values()) {
          if (!purgeable(r, filter)) continue
          n++
          workflows.delete(r.id)
          journals.delete(`${journalOwner(r)}\u0000${r.run}`)
          if (r.status !== "continued") purged.add(r.id)
        }
        if (purged.size > 0) events = events.filter((e) => !purged.has(e.workflowId))
        return n
      }),
    subscribeChanges: change.subscribe
  }
}

/** @internal */
export const layerMemory = (tag: Context.Tag<WorkflowStorage, WorkflowStorageService>): Layer.Layer<WorkflowStorage> =>
  Layer.sync(tag, makeMemory)

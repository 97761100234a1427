/**
 * Live status of one run of an operation tree. Transitions are plain writes
 * into typed arrays (no allocation, no fiber hop per leaf); snapshots copy the
 * arrays and events are recorded only when an observer asked for them.
 */
import * as Cause from "effect/Cause"
import type * as Exit from "effect/Exit"
import { KIND_LEAF, type Plan } from "./plan.js"

/** Status codes, indexes into `statusNames`. @internal */
export const PENDING = 0
/** @internal */
export const RUNNING = 1
/** @internal */
export const SUCCEEDED = 2
/** @internal */
export const FAILED = 3
/** @internal */
export const CANCELLED = 4
/** @internal */
export const SKIPPED = 5
/** @internal */
export const COMPENSATING = 6
/** @internal */
export const COMPENSATED = 7
/** @internal */
export const COMPENSATION_FAILED = 8

/** @internal */
export const statusNames = [
  "pending",
  "running",
  "succeeded",
  "failed",
  "cancelled",
  "skipped",
  "compensating",
  "compensated",
  "compensation-failed"
] as const

/** @internal */
export const isTerminalCode = (code: number): boolean => code >= SUCCEEDED

/** A raw event: node id, status code entered, time, attempt. @internal */
export interface RawEvent {
  readonly id: number
  readonly status: number
  readonly at: number
  readonly attempt: number
}

/** @internal */
export class Tracker {
  readonly status: Uint8Array
  readonly attempts: Uint32Array
  readonly startedAt: Float64Array
  readonly endedAt: Float64Array
  readonly causes = new Map<number, Cause.Cause<unknown>>()
  completedLeaves = 0
  /** Bumped on every change so that samplers can skip idle ticks. */
  version = 0
  events: Array<RawEvent> | undefined

  constructor(
    readonly plan: Plan,
    readonly now: () => number,
    recordEvents: boolean
  ) {
    this.status = new Uint8Array(plan.size)
    this.attempts = new Uint32Array(plan.size)
    this.startedAt = new Float64Array(plan.size).fill(Number.NaN)
    this.endedAt = new Float64Array(plan.size).fill(Number.NaN)
    this.events = recordEvents ? [] : undefined
  }

  /** A leaf starts an attempt (or a group starts). */
  begin(id: number): void {
    const attempt = ++this.attempts[id]!
    const at = this.now()
    if (attempt === 1) this.startedAt[id] = at
    this.status[id] = RUNNING
    this.version++
    if (this.events !== undefined) this.events.push({ id, status: RUNNING, at, attempt })
  }

  private set(id: number, code: number, at: number): void {
    const before = this.status[id]!
    this.status[id] = code
    this.endedAt[id] = at
    this.version++
    if (this.plan.kind[id] === KIND_LEAF && !isTerminalCode(before) && isTerminalCode(code)) this.completedLeaves++
    if (this.events !== undefined) this.events.push({ id, status: code, at, attempt: this.attempts[id]! })
  }

  /** A node ended with this exit. */
  finish(id: number, exit: Exit.Exit<unknown, unknown>): void {
    const at = this.now()
    if (exit._tag === "Success") return this.set(id, SUCCEEDED, at)
    if (Cause.isInterruptedOnly(exit.cause)) return this.set(id, CANCELLED, at)
    this.causes.set(id, exit.cause)
    this.set(id, FAILED, at)
  }

  /** Marks a node with a status code (compensation states, for instance). */
  mark(id: number, code: number): void {
    this.set(id, code, this.now())
  }

  /**
   * After nodes `[from, to)` stopped early: whatever still runs was interrupted
   * (cancelled), whatever never started is skipped.
   */
  sweep(from: number, to: number): void {
    const at = this.now()
    for (let i = from; i < to; i++) {
      const code = this.status[i]!
      if (code === RUNNING) this.set(i, CANCELLED, at)
      else if (code === PENDING) this.set(i, SKIPPED, at)
    }
  }

  /** The failed leaves of a subtree, in tree order. */
  failedLeaves(id: number): Array<number> {
    const out: Array<number> = []
    const stop = this.plan.end[id]!
    for (let i = id; i < stop; i++) {
      if (this.status[i] === FAILED && this.plan.kind[i] === KIND_LEAF) out.push(i)
    }
    return out
  }

  drainEvents(): Array<RawEvent> {
    const events = this.events ?? []
    if (this.events !== undefined) this.events = []
    return events
  }
}

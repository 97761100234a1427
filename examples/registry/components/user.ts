/**
 * The `user` component: looks a user up in a directory given by its config.
 */
import { Effect, Schema } from "effect"
import * as Component from "../../../src/Component.js"

export class UserNotFound extends Schema.TaggedError<UserNotFound>()("UserNotFound", { id: Schema.String }) {}

export const User = Component.make({
  name: "user",
  description: "Looks a user up by id",
  input: Schema.Struct({ id: Schema.String.pipe(Schema.minLength(1)) }),
  output: Schema.Struct({ id: Schema.String, name: Schema.String, email: Schema.String }),
  error: UserNotFound,
  config: Schema.Struct({
    domain: Schema.String,
    users: Schema.Record({ key: Schema.String, value: Schema.String })
  })
})

export const UserLive = User.toLayer((input, config) => {
  const name = config.users[input.id]
  return name === undefined
    ? Effect.fail(new UserNotFound({ id: input.id }))
    : Effect.succeed({ id: input.id, name, email: `${name.toLowerCase()}@${config.domain}` })
})

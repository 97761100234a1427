/**
 * The `notification` component: "sends" a message on the configured channel.
 */
import { Effect, Schema } from "effect"
import * as Component from "../../../src/Component.js"

export const Notification = Component.make({
  name: "notification",
  description: "Sends a message to a user",
  input: Schema.Struct({ to: Schema.String, message: Schema.String.pipe(Schema.maxLength(500)) }),
  output: Schema.Struct({ delivered: Schema.Boolean, channel: Schema.String, to: Schema.String }),
  config: Schema.Struct({ channel: Schema.Literal("email", "sms") })
})

export const NotificationLive = Notification.toLayer((input, config) =>
  Effect.succeed({ delivered: true, channel: config.channel, to: input.to })
)

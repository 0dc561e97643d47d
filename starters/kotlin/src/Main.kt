package io.openruntimes.kotlin.src

import io.openruntimes.kotlin.RuntimeContext
import io.openruntimes.kotlin.RuntimeOutput

class Main {
    // Runs once per execution. One parameter, the context: req, res, log() and error().
    suspend fun main(context: RuntimeContext): RuntimeOutput {
        // log() and error() end up in the execution's logs and errors; the caller never sees them.
        context.log("Starter function called on " + context.req.path)
        context.error("Example error entry (from context.error)")

        if (context.req.path == "/ping") {
            // A handler must return one of the res helpers: text(), json(), binary(), redirect(), empty().
            return context.res.text("Pong")
        }

        return context.res.json(
            mapOf(
                "motto" to "Build like a team of hundreds_",
                "learn" to "https://appwrite.io/docs",
                "connect" to "https://appwrite.io/discord",
                "getInspired" to "https://builtwith.appwrite.io",
            ),
        )
    }
}

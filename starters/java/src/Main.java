package io.openruntimes.java.src;

import io.openruntimes.java.RuntimeContext;
import io.openruntimes.java.RuntimeOutput;
import java.util.HashMap;
import java.util.Map;

public class Main {
    // Runs once per execution. One parameter, the context: getReq(), getRes(), log() and error().
    public RuntimeOutput main(RuntimeContext context) throws Exception {
        // log() and error() end up in the execution's logs and errors; the caller never sees them.
        context.log("Starter function called on " + context.getReq().getPath());
        context.error("Example error entry (from context.error)");

        if (context.getReq().getPath().equals("/ping")) {
            // A handler must return one of the res helpers: text(), json(), binary(), redirect(), empty().
            return context.getRes().text("Pong");
        }

        Map<String, Object> json = new HashMap<>();
        json.put("motto", "Build like a team of hundreds_");
        json.put("learn", "https://appwrite.io/docs");
        json.put("connect", "https://appwrite.io/discord");
        json.put("getInspired", "https://builtwith.appwrite.io");
        return context.getRes().json(json);
    }
}

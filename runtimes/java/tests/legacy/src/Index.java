// Canonical test function for the legacy (Appwrite 1.0-1.3) API, written the way v2 Java functions
// were: a bare `main(req, res)` method with its imports and no class around it (the build wraps it).

import java.util.HashMap;
import java.util.Map;

public RuntimeResponse main(RuntimeRequest req, RuntimeResponse res) throws Exception {
    String action = req.getHeaders().getOrDefault("x-action", "");

    switch (action) {
        case "payload":
            return res.send(req.getPayload());
        case "json":
            Map<String, Object> data = new HashMap<>();
            data.put("ok", true);
            data.put("payload", req.getPayload());
            return res.json(data);
        case "variables":
            return res.json(req.getVariables());
        case "headers":
            return res.json(req.getHeaders());
        case "status":
            return res.send("teapot", 418);
        case "log":
            System.out.println("legacy log");
            return res.send("ok");
        case "throw":
            throw new Exception("Legacy error");
        default:
            throw new Exception("Unknown action");
    }
}

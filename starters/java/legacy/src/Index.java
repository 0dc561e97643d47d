/*
  Appwrite 1.0-1.3 function API: a bare main(req, res) method, no class around it (the build adds it).
    req.getPayload()    the request body as a String ("" when empty)
    req.getVariables()  the function's variables and APPWRITE_FUNCTION_* values
    req.getHeaders()    the request headers
    res.send(text[, status]) and res.json(map[, status]); the last call wins.
  Anything printed is the execution's log. A thrown exception answers 500.
*/
import java.util.HashMap;
import java.util.Map;

public RuntimeResponse main(RuntimeRequest req, RuntimeResponse res) throws Exception {
    if (req.getPayload().equals("ping")) {
        return res.send("pong");
    }

    System.out.println("Payload: " + req.getPayload());

    Map<String, Object> data = new HashMap<>();
    data.put("areDevelopersAwesome", true);
    data.put("payload", req.getPayload());
    data.put("functionId", req.getVariables().getOrDefault("APPWRITE_FUNCTION_ID", ""));
    return res.json(data);
}

<?php

/*
  Appwrite 1.0-1.3 function API: two parameters.
    $req['payload']    the request body as a string ('' when empty)
    $req['variables']  the function's variables and APPWRITE_FUNCTION_* values
    $req['headers']    the request headers
    $res->send($text, $status = 200) and $res->json($array, $status = 200); the last call wins.
  Anything echoed is the execution's log. An uncaught exception answers 500.
*/
return function ($req, $res) {
    if ($req['payload'] === 'ping') {
        return $res->send('pong');
    }

    echo 'Payload: ' . $req['payload'] . "\n";

    $res->json([
        'areDevelopersAwesome' => true,
        'payload' => $req['payload'],
        'functionId' => $req['variables']['APPWRITE_FUNCTION_ID'] ?? '',
    ]);
};

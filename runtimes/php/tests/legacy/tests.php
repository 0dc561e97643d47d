<?php
// Canonical test function for the legacy (Appwrite 1.0–1.3) API: two parameters, `$req` and `$res`.

return function ($req, $res) {
    switch ($req['headers']['x-action'] ?? '') {
        case 'payload':
            return $res->send($req['payload']);
        case 'json':
            return $res->json(['ok' => true, 'payload' => $req['payload']]);
        case 'variables':
            return $res->json($req['variables']);
        case 'headers':
            return $res->json($req['headers']);
        case 'status':
            return $res->send('teapot', 418);
        case 'log':
            echo "legacy log\n";
            return $res->send('ok');
        case 'throw':
            throw new Exception('legacy error');
        default:
            throw new Exception('Unknown action');
    }
};

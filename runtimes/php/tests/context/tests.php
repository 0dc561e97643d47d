<?php
// Canonical test function (current context API), selected by the `x-action` request header.
// Same actions in every language: see runtimes/README.md.

return function ($context) {
    $req = $context->req;
    $res = $context->res;

    switch ($req->headers['x-action'] ?? '') {
        case 'plaintextResponse':
            return $res->text('Hello World 👋');
        case 'jsonResponse':
            return $res->json(['json' => true, 'message' => 'Developers are awesome.']);
        case 'customCharsetResponse':
            return $res->text('ÅÆ', 200, ['content-type' => 'text/plain; charset=iso-8859-1']);
        case 'uppercaseCharsetResponse':
            return $res->text('ÅÆ', 200, ['content-type' => 'TEXT/PLAIN']);
        case 'multipartResponse':
            return $res->text("--12345
Content-Disposition: form-data; name=\"partOne\"

Why just have one part?
--12345
Content-Disposition: form-data; name=\"partTwo\"

When you can have two!
--12345--", 200, ['content-type' => 'multipart/form-data; boundary=12345']);
        case 'redirectResponse':
            return $res->redirect('https://github.com/');
        case 'emptyResponse':
            return $res->empty();
        case 'noResponse':
            $res->text('This should be ignored, as it is not returned.');
            return;
        case 'doubleResponse':
            $res->text('This should be ignored.');
            return $res->text('This should be returned.');
        case 'enforcedHeaders':
            return $res->json([
                'x-custom' => $req->headers['x-custom'] ?? null,
                'x-custom-uppercase' => $req->headers['x-custom-uppercase'] ?? null,
                'x-open-runtimes-custom' => $req->headers['x-open-runtimes-custom'] ?? null,
            ]);
        case 'headersResponse':
            return $res->text('OK', 200, [
                'first-header' => 'first-value',
                'second-header' => $req->headers['x-open-runtimes-custom-in-header'] ?? 'missing',
                'cookie' => $req->headers['cookie'] ?? 'missing',
                'x-open-runtimes-custom-out-header' => 'third-value',
            ]);
        case 'statusResponse':
            return $res->text('FAIL', 404);
        case 'requestMethod':
            return $res->text($req->method);
        case 'requestUrl':
            return $res->json([
                'url' => $req->url,
                'port' => $req->port,
                'path' => $req->path,
                'query' => $req->query,
                'queryString' => $req->queryString,
                'scheme' => $req->scheme,
                'host' => $req->host,
            ]);
        case 'requestHeaders':
            return $res->json($req->headers);
        case 'requestBodyText':
            return $res->text($req->bodyText);
        case 'requestBodyJson':
            return $res->json($req->bodyJson);
        case 'requestBodyBinary':
            return $res->binary($req->bodyBinary);
        case 'requestBodyTextAuto':
            return $res->text($req->body);
        case 'requestBodyJsonAuto':
            return $res->json($req->body);
        case 'binaryResponse1':
            return $res->binary(pack('C*', 0, 10, 255));
        case 'binaryResponse2':
            return $res->binary(pack('C*', 0, 20, 255));
        case 'binaryResponse3':
            return $res->binary(pack('C*', 0, 30, 255));
        case 'binaryResponse4':
            return $res->binary(pack('C*', 0, 40, 255));
        case 'binaryResponse5':
            return $res->binary(pack('C*', 0, 50, 255));
        case 'binaryResponseLarge':
            return $res->text(md5($req->bodyBinary), 200, ['x-method' => $req->method]);
        case 'envVars':
            return $res->json([
                'var' => getenv('CUSTOM_ENV_VAR') ?: null,
                'emptyVar' => getenv('NOT_DEFINED_VAR') ?: null,
            ]);
        case 'logs':
            echo "Native log\n";
            $context->log('Debug log');
            $context->error('Error log');
            $context->log('Log+With+Plus+Symbol');
            $context->log(42);
            $context->log(4.2);
            $context->log(true);
            $context->log(['objectKey' => 'objectValue']);
            $context->log(['arrayValue']);
            $context->log(str_repeat('A', 9000));
            $context->error(str_repeat('B', 9000));
            return $res->text('');
        case 'timeout':
            $context->log('Timeout start.');
            sleep(3);
            $context->log('Timeout end.');
            return $res->text('Successful response.');
        case 'deprecatedMethods':
            return $res->send($req->bodyRaw);
        case 'deprecatedMethodsUntypedBody':
            return $res->send(50);
        case 'spreadOperatorLogs':
            $context->log('engine:', 'open-runtimes');
            $context->error('engine:', 'open-runtimes');
            return $res->text('OK');
        case 'errorTest':
            $context->log('Before error...');
            throw new Exception('Error!');
        case 'largeResponse':
            return $res->text(str_repeat('x', (int) ($req->headers['x-size'] ?? 2000000)));
        case 'floodLogs':
            echo str_repeat('x', 5 * 1024 * 1024) . "\n";
            return $res->text('OK');
        case 'exit':
            exit(1);
        case 'hang':
            while (true) {
                sleep(60);
            }
        default:
            throw new Exception('Unknown action');
    }
};

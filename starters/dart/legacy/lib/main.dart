/*
  Appwrite 1.0-1.3 function API: start(req, res).
    req.payload    the request body as a string ('' when empty)
    req.variables  the function's variables and APPWRITE_FUNCTION_* values
    req.headers    the request headers
    res.send(text, status: 200) and res.json(map, status: 200); the last call wins.
  Anything printed is the execution's log. A thrown error answers 500.
*/
Future<void> start(final req, final res) async {
  if (req.payload == 'ping') {
    res.send('pong');
    return;
  }

  print('Payload: ' + req.payload);

  res.json({
    'areDevelopersAwesome': true,
    'payload': req.payload,
    'functionId': req.variables['APPWRITE_FUNCTION_ID'] ?? '',
  });
}

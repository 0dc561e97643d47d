// Canonical test function (v2 API, as written for Appwrite 1.0-1.3); the action comes from
// req.headers['x-action'].
import 'dart:async';

Future<void> start(final req, final res) async {
  final action = req.headers['x-action'] ?? '';
  switch (action) {
    case 'payload':
      res.send(req.payload);
      return;
    case 'json':
      res.json({'ok': true, 'payload': req.payload});
      return;
    case 'variables':
      res.json(req.variables);
      return;
    case 'headers':
      res.json(req.headers);
      return;
    case 'status':
      res.send('teapot', status: 418);
      return;
    case 'log':
      print('legacy log');
      res.send('ok');
      return;
    case 'throw':
      throw Exception('Legacy error');
  }
  throw Exception('Unknown action');
}

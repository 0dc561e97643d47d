// Dart adapter: an HTTP server (dart:io) that speaks the open-runtimes executor contract
// (runtimes/README.md) and calls the user's `main(context)` or, for Appwrite 1.0-1.3 code,
// `start(req, res)`.
//
// emulator/languages/dart.py compiles it with a generated `main.dart` that imports the user's
// library and calls `serve(handler: user.main)` (or `legacy: true` with `user.start`); which one is
// decided from the entry file when the deployment is built. Dart has no varargs, so context.log()
// takes up to eight values.
import 'dart:async';
import 'dart:convert';
import 'dart:io';
import 'dart:math';

// ---------------------------------------------------------------- config

final Map<String, String> _env = Platform.environment;
final String _host = _env['OPEN_RUNTIMES_HOST'] ?? '0.0.0.0';
final int _port = int.tryParse(_env['OPEN_RUNTIMES_PORT'] ?? '') ?? 3000;
final String _logsDir = _env['OPEN_RUNTIMES_LOGS_DIR'] ?? '/mnt/logs';
final String _secret = _env['OPEN_RUNTIMES_SECRET'] ?? '';
final bool _development = (_env['OPEN_RUNTIMES_ENV'] ?? 'production') == 'development';
final String? _v2Key = _env['INTERNAL_RUNTIME_KEY'];
final Map<String, String> _enforcedHeaders = _parseEnforcedHeaders();

const int _maxBody = 20 * 1024 * 1024;
const int _maxLogChars = 8000;
const String _nativeNotice = 'Native logs detected. Use context.log() or context.error() for better experience.';
const String _timeoutHeaderError = 'Header "x-open-runtimes-timeout" must be an integer greater than 0.';
const String _unauthorized = 'Unauthorized. Provide correct "x-open-runtimes-secret" header.';
const String _noReturn = 'Return statement missing. return context.res.empty() if no response is expected.';

Map<String, String> _parseEnforcedHeaders() {
  try {
    final value = jsonDecode(_env['OPEN_RUNTIMES_HEADERS'] ?? '{}');
    if (value is! Map) return {};
    return value.map((k, v) => MapEntry(k.toString().toLowerCase(), v is String ? v : jsonEncode(v)));
  } catch (_) {
    return {};
  }
}

// ---------------------------------------------------------------- logging

const Object _none = Object();

String _stringify(dynamic value) {
  if (value is String) return value;
  if (value is Map || value is List) {
    try {
      return jsonEncode(value);
    } catch (_) {}
  }
  return value.toString();
}

String _truncate(String message) {
  final runes = message.runes;
  if (runes.length <= _maxLogChars) return message;
  return String.fromCharCodes(runes.take(_maxLogChars)) +
      '... Log truncated due to size limit ($_maxLogChars characters)';
}

// uniqid()-like: 8 hex of seconds + 5 hex of microseconds + 7 random hex.
final Random _random = Random.secure();
String _generateLogId() {
  final micros = DateTime.now().microsecondsSinceEpoch;
  return (micros ~/ 1000000).toRadixString(16).padLeft(8, '0') +
      (micros % 1000000).toRadixString(16).padLeft(5, '0') +
      _random.nextInt(0x10000000).toRadixString(16).padLeft(7, '0');
}

class _Logger {
  final bool enabled;
  final String id;
  File? _logs;
  File? _errors;
  bool _noticeWritten = false;
  bool notice = true;
  bool closed = false;

  _Logger(this.enabled, String id) : id = enabled ? id : '' {
    if (!enabled) return;
    _logs = File('$_logsDir/${this.id}_logs.log')..writeAsStringSync('', mode: FileMode.append);
    _errors = File('$_logsDir/${this.id}_errors.log')..writeAsStringSync('', mode: FileMode.append);
  }

  void write(bool isError, List<dynamic> values) {
    final message = values.where((v) => !identical(v, _none)).map(_stringify).join(' ');
    _append(isError ? _errors : _logs, _truncate(message) + '\n');
  }

  // print() inside a call, captured by the call's zone.
  void native(String line) {
    if (notice && !_noticeWritten) {
      _noticeWritten = true;
      _append(_logs, _nativeNotice + '\n');
    }
    _append(_logs, line + '\n');
  }

  void _append(File? file, String text) {
    // Once the call has been answered (e.g. timed out) what it writes later is dropped.
    if (!enabled || closed || file == null) return;
    file.writeAsStringSync(text, mode: FileMode.append, flush: true);
  }
}

// ---------------------------------------------------------------- request / context

class RuntimeRequest {
  final String method;
  final String scheme;
  final String host;
  final int port;
  final String path;
  final Map<String, String> query;
  final String queryString;
  final Map<String, dynamic> headers;
  final List<int> bodyBinary;
  final String url;

  RuntimeRequest(this.method, this.scheme, this.host, this.port, this.path, this.query, this.queryString,
      this.headers, this.bodyBinary, this.url);

  String get bodyText => utf8.decode(bodyBinary, allowMalformed: true);
  String get bodyRaw => bodyText;
  dynamic get bodyJson => jsonDecode(bodyText);

  dynamic get body {
    final contentType = (headers['content-type'] ?? 'text/plain').toString().toLowerCase();
    if (contentType.startsWith('application/json')) {
      return bodyBinary.isEmpty ? <String, dynamic>{} : bodyJson;
    }
    return bodyText;
  }
}

class RuntimeResponse {
  Map<String, dynamic> binary(List<int> bytes, [int statusCode = 200, Map<String, dynamic> headers = const {}]) {
    return {'body': bytes, 'statusCode': statusCode, 'headers': headers};
  }

  Map<String, dynamic> text(String body, [int statusCode = 200, Map<String, dynamic> headers = const {}]) {
    return binary(utf8.encode(body), statusCode, headers);
  }

  Map<String, dynamic> json(dynamic json, [int statusCode = 200, Map<String, dynamic> headers = const {}]) {
    return text(jsonEncode(json), statusCode, {...headers, 'content-type': 'application/json'});
  }

  Map<String, dynamic> empty() => text('', 204);

  Map<String, dynamic> redirect(String url, [int statusCode = 301, Map<String, dynamic> headers = const {}]) {
    return text('', statusCode, {...headers, 'location': url});
  }

  // Deprecated alias of text().
  Map<String, dynamic> send(String body, [int statusCode = 200, Map<String, dynamic> headers = const {}]) {
    return text(body, statusCode, headers);
  }
}

class RuntimeContext {
  final RuntimeRequest req;
  final RuntimeResponse res = RuntimeResponse();
  final _Logger _logger;

  RuntimeContext(this.req, this._logger);

  void log(dynamic a, [dynamic b = _none, dynamic c = _none, dynamic d = _none, dynamic e = _none,
      dynamic f = _none, dynamic g = _none, dynamic h = _none]) {
    _logger.write(false, [a, b, c, d, e, f, g, h]);
  }

  void error(dynamic a, [dynamic b = _none, dynamic c = _none, dynamic d = _none, dynamic e = _none,
      dynamic f = _none, dynamic g = _none, dynamic h = _none]) {
    _logger.write(true, [a, b, c, d, e, f, g, h]);
  }
}

// v2 API (Appwrite 1.0-1.3): `Future<void> start(final req, final res)`.
class LegacyRequest {
  final String payload;
  final Map<String, dynamic> variables;
  final Map<String, dynamic> headers;

  LegacyRequest(this.payload, this.variables, this.headers);

  Map<String, dynamic> get env => variables;  // name used by the earliest v2 runtimes
}

class LegacyResponse {
  int status = 200;
  dynamic data = '';
  bool isJson = false;

  // The v2 runtimes took the status as a named argument; calls with it positional reach
  // noSuchMethod below (req and res are `dynamic` in user code).
  LegacyResponse send(dynamic text, {int status = 200}) {
    data = text?.toString() ?? '';
    isJson = false;
    this.status = status;
    return this;
  }

  LegacyResponse json(dynamic json, {int status = 200}) {
    data = json;
    isJson = true;
    this.status = status;
    return this;
  }

  @override
  dynamic noSuchMethod(Invocation invocation) {
    final name = invocation.memberName;
    final args = invocation.positionalArguments;
    if ((name == #send || name == #json) && args.length == 2 && args[1] is int) {
      return name == #send ? send(args[0], status: args[1]) : json(args[0], status: args[1]);
    }
    return super.noSuchMethod(invocation);
  }
}

Map<String, dynamic> _functionHeaders(HttpHeaders incoming) {
  final headers = <String, dynamic>{};
  incoming.forEach((name, values) {
    final key = name.toLowerCase();
    if (key.startsWith('x-open-runtimes-')) return;
    headers[key] = values.join(key == 'cookie' ? '; ' : ', ');
  });
  headers.addAll(_enforcedHeaders);
  return headers;
}

RuntimeRequest _buildRequest(HttpRequest http, List<int> body) {
  final headers = _functionHeaders(http.headers);
  final scheme = http.headers.value('x-forwarded-proto') ?? 'http';
  final defaultPort = scheme == 'https' ? 443 : 80;
  var host = http.headers.value('host') ?? '';
  var port = defaultPort;
  final colon = host.lastIndexOf(':');
  if (colon >= 0 && !host.substring(colon).contains(']')) {
    port = int.tryParse(host.substring(colon + 1)) ?? defaultPort;
    host = host.substring(0, colon);
  }
  final path = http.uri.path;
  final queryString = http.uri.query;
  final query = <String, String>{};
  for (final param in queryString.split('&')) {
    final eq = param.indexOf('=');
    final key = eq < 0 ? param : param.substring(0, eq);
    if (key.isEmpty) continue;
    query[key] = eq < 0 ? '' : param.substring(eq + 1);
  }
  final url = '$scheme://$host${port != defaultPort ? ':$port' : ''}$path${queryString.isEmpty ? '' : '?$queryString'}';
  return RuntimeRequest(http.method, scheme, host, port, path, query, queryString, headers, body, url);
}

// v2-era per-execution variables come from the request: a warm process's environment cannot
// change per call (runtimes/README.md).
Map<String, dynamic> _executionVariables(RuntimeRequest req) {
  final event = (req.headers['x-appwrite-event'] ?? '').toString();
  return {
    ..._env,
    'APPWRITE_FUNCTION_TRIGGER': (req.headers['x-appwrite-trigger'] ?? '').toString(),
    'APPWRITE_FUNCTION_EVENT': event,
    'APPWRITE_FUNCTION_EVENT_DATA': event.isEmpty ? '' : req.bodyText,
    'APPWRITE_FUNCTION_DATA': req.bodyText,
    'APPWRITE_FUNCTION_USER_ID': (req.headers['x-appwrite-user-id'] ?? '').toString(),
    'APPWRITE_FUNCTION_JWT': (req.headers['x-appwrite-user-jwt'] ?? '').toString(),
  };
}

// ---------------------------------------------------------------- response

Future<void> _send(HttpRequest http, int status, List<int> body, Map<String, dynamic> headers, String? logId) async {
  final response = http.response;
  response.statusCode = status;
  var contentType = 'text/plain';
  headers.forEach((name, value) {
    final key = name.toLowerCase();
    if (key.startsWith('x-open-runtimes-')) return;
    if (key == 'content-type') {
      contentType = value.toString().toLowerCase();
    } else if (value is List) {
      for (final v in value) {
        response.headers.add(key, v.toString());
      }
    } else {
      response.headers.set(key, value.toString());
    }
  });
  if (!contentType.startsWith('multipart/') && !contentType.contains('charset=')) contentType += '; charset=utf-8';
  response.headers.set('content-type', contentType);
  if (logId != null) response.headers.set('x-open-runtimes-log-id', logId);
  response.contentLength = body.length;
  if (http.method != 'HEAD') response.add(body);
  await response.close();
}

Future<void> _plain(HttpRequest http, int status, String body) =>
    _send(http, status, utf8.encode(body), const {}, null);

Future<void> _jsonReply(HttpRequest http, int status, Map<String, dynamic> body) =>
    _send(http, status, utf8.encode(jsonEncode(body)), {'content-type': 'application/json'}, null);

// ---------------------------------------------------------------- loader

class _Function {
  final Function? handler;  // main(context) or, when legacy, start(req, res)
  final bool legacy;
  final String? loadError;

  _Function(this.handler, this.legacy, this.loadError);
}

late _Function _function;

class _Outcome {
  dynamic output;
  Object? error;
  StackTrace? stack;
  bool timedOut = false;
}

// Runs the handler in a zone that sends print() to the call's logs; on timeout the call keeps
// running but its logger is closed, so nothing it writes afterwards lands anywhere.
Future<_Outcome> _invoke(List<dynamic> args, int? timeout, _Logger logger,
    {void Function(String line)? onPrint}) async {
  final outcome = _Outcome();
  final completer = Completer<void>();
  runZonedGuarded(() async {
    try {
      outcome.output = await Function.apply(_function.handler!, args);
    } catch (e, st) {
      outcome.error = e;
      outcome.stack = st;
    }
    if (!completer.isCompleted) completer.complete();
  }, (e, st) {
    // an error thrown by something the handler started but did not await
    if (outcome.error == null && !completer.isCompleted) {
      outcome.error = e;
      outcome.stack = st;
      completer.complete();
    }
  }, zoneSpecification: ZoneSpecification(print: (self, parent, zone, line) {
    if (onPrint != null) {
      onPrint(line);
    } else {
      logger.native(line);
    }
  }));
  if (timeout == null) {
    await completer.future;
  } else {
    try {
      await completer.future.timeout(Duration(seconds: timeout));
    } on TimeoutException {
      outcome.timedOut = true;
    }
  }
  return outcome;
}

// ---------------------------------------------------------------- server

Future<List<int>?> _readBody(HttpRequest http) async {
  final builder = BytesBuilder(copy: false);
  await for (final chunk in http) {
    builder.add(chunk);
    if (builder.length > _maxBody) return null;
  }
  return builder.takeBytes();
}

// v5 wire: the processing order of runtimes/README.md.
Future<void> _handleV5(HttpRequest http) async {
  if (http.method == 'GET' && http.uri.path == '/__opr/health') return _plain(http, 200, 'OK');

  int? timeout;
  final timeoutHeader = http.headers.value('x-open-runtimes-timeout') ?? '';
  if (timeoutHeader.isNotEmpty) {
    final parsed = RegExp(r'^[0-9]+$').hasMatch(timeoutHeader) ? int.tryParse(timeoutHeader) : null;
    if (parsed == null || parsed <= 0) return _plain(http, 500, _timeoutHeaderError);
    timeout = parsed;
  }

  if (_secret.isNotEmpty && http.headers.value('x-open-runtimes-secret') != _secret) {
    return _plain(http, 500, _unauthorized);
  }

  final enabled = http.headers.value('x-open-runtimes-logging') != 'disabled';
  var logId = http.headers.value('x-open-runtimes-log-id') ?? '';
  if (logId.isEmpty) logId = _development ? 'dev' : _generateLogId();
  final logger = _Logger(enabled, logId);

  final body = await _readBody(http);
  if (body == null) return _plain(http, 413, 'Payload Too Large');

  if (_function.loadError != null) {
    logger.write(true, [_function.loadError]);
    return _send(http, 503, const [], const {}, logger.id);
  }

  final req = _buildRequest(http, body);
  _Outcome outcome;
  LegacyResponse? legacyRes;
  if (_function.legacy) {
    legacyRes = LegacyResponse();
    logger.notice = false;  // v2-era functions log with print() only
    final variables = _executionVariables(req);
    outcome = await _invoke([LegacyRequest(req.bodyText, variables, req.headers), legacyRes], timeout, logger);
  } else {
    outcome = await _invoke([RuntimeContext(req, logger)], timeout, logger);
  }

  if (outcome.timedOut) {
    logger.write(true, ['Execution timed out.']);
    logger.closed = true;
    return _send(http, 500, const [], const {}, logger.id);
  }
  if (outcome.error != null) {
    logger.write(true, ['${outcome.error}\n${outcome.stack}']);
    logger.closed = true;
    return _send(http, 500, const [], const {}, logger.id);
  }
  logger.closed = true;

  dynamic output = outcome.output;
  if (legacyRes != null) {
    output = legacyRes.isJson
        ? RuntimeResponse().json(legacyRes.data, legacyRes.status)
        : RuntimeResponse().text(legacyRes.data.toString(), legacyRes.status);
  }
  if (output is! Map || output['statusCode'] is! int) {
    logger.closed = false;
    logger.write(true, [_noReturn]);
    logger.closed = true;
    return _send(http, 500, const [], const {}, logger.id);
  }
  final headers = output['headers'] is Map ? Map<String, dynamic>.from(output['headers']) : <String, dynamic>{};
  final bytes = output['body'] is List<int> ? output['body'] as List<int> : utf8.encode('${output['body'] ?? ''}');
  return _send(http, output['statusCode'], bytes, headers, logger.id);
}

// v2 wire (INTERNAL_RUNTIME_KEY set): JSON in, {"response", "stdout", "stderr"} out.
Future<void> _handleV2(HttpRequest http) async {
  if (http.headers.value('x-internal-challenge') != _v2Key) {
    await _readBody(http);
    return _jsonReply(http, 500, {'stderr': 'Unauthorized'});
  }
  final raw = await _readBody(http) ?? const <int>[];
  dynamic data;
  try {
    data = jsonDecode(utf8.decode(raw, allowMalformed: true));
  } catch (_) {}
  if (data is! Map) data = <String, dynamic>{};
  if (_function.loadError != null) {
    return _jsonReply(http, 503, {'response': '', 'stdout': '', 'stderr': _function.loadError});
  }

  final payload = data['payload'] is String ? data['payload'] as String : (data['payload'] == null ? '' : jsonEncode(data['payload']));
  final headers = <String, dynamic>{};
  if (data['headers'] is Map) {
    (data['headers'] as Map).forEach((k, v) => headers[k.toString().toLowerCase()] = _stringify(v));
  }
  final variables = Map<String, dynamic>.from(_env);
  if (data['variables'] is Map) {
    (data['variables'] as Map).forEach((k, v) => variables[k.toString()] = _stringify(v));
  }
  final timeout = data['timeout'] is int && data['timeout'] > 0 ? data['timeout'] as int : null;

  final stdoutLines = <String>[];
  final stderrLines = <String>[];
  final logger = _Logger(false, '');
  _Outcome outcome;
  dynamic response = '';
  var status = 500;
  if (_function.legacy) {
    final res = LegacyResponse();
    outcome = await _invoke([LegacyRequest(payload, variables, headers), res], timeout, logger,
        onPrint: stdoutLines.add);
    if (!outcome.timedOut && outcome.error == null) {
      response = res.data;
      status = res.status;
    }
  } else {
    // A current-API function on the v2 wire: its context.log() lines are its stdout.
    final req = RuntimeRequest('POST', 'http', '', 80, '/', {}, '', headers, utf8.encode(payload), 'http:///');
    final context = _V2Context(req, stdoutLines, stderrLines);
    outcome = await _invoke([context], timeout, logger, onPrint: stdoutLines.add);
    final output = outcome.output;
    if (!outcome.timedOut && outcome.error == null) {
      if (output is Map && output['statusCode'] is int) {
        status = output['statusCode'];
        response = output['body'] is List<int> ? utf8.decode(output['body'], allowMalformed: true) : '${output['body']}';
      } else {
        stderrLines.add(_noReturn);
      }
    }
  }
  if (outcome.timedOut) stderrLines.add('Execution timed out.');
  if (outcome.error != null) stderrLines.add('${outcome.error}\n${outcome.stack}');
  return _jsonReply(http, status, {'response': response, 'stdout': stdoutLines.join('\n'), 'stderr': stderrLines.join('\n')});
}

class _V2Context extends RuntimeContext {
  final List<String> _out;
  final List<String> _err;

  _V2Context(RuntimeRequest req, this._out, this._err) : super(req, _Logger(false, ''));

  @override
  void log(dynamic a, [dynamic b = _none, dynamic c = _none, dynamic d = _none, dynamic e = _none,
      dynamic f = _none, dynamic g = _none, dynamic h = _none]) {
    _out.add(_truncate([a, b, c, d, e, f, g, h].where((v) => !identical(v, _none)).map(_stringify).join(' ')));
  }

  @override
  void error(dynamic a, [dynamic b = _none, dynamic c = _none, dynamic d = _none, dynamic e = _none,
      dynamic f = _none, dynamic g = _none, dynamic h = _none]) {
    _err.add(_truncate([a, b, c, d, e, f, g, h].where((v) => !identical(v, _none)).map(_stringify).join(' ')));
  }
}

/// Entry point used by the generated main.dart.
Future<void> serve({Function? handler, bool legacy = false, String? loadError}) async {
  _function = _Function(handler, legacy, loadError ?? (handler == null ? 'Function signature invalid. Did you forget to export a \'main\' function?' : null));
  final server = await HttpServer.bind(_host, _port, shared: false);
  // dart:io adds x-frame-options and friends by default; responses carry only the function's headers.
  server.defaultResponseHeaders.clear();
  server.autoCompress = false;
  print('HTTP server successfully started!');
  await for (final http in server) {
    final future = _v2Key != null ? _handleV2(http) : _handleV5(http);
    future.catchError((Object e) {
      try {
        http.response.statusCode = 500;
        http.response.close();
      } catch (_) {}
    });
  }
}
